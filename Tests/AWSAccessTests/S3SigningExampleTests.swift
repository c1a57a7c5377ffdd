import AWSAccess
import NIOCore
import NIOHTTP1
import Testing

/// The examples of the S3 API reference, "Signature Calculations for the Authorization Header:
/// Transferring Payload in a Single Chunk": bucket `examplebucket`, 20130524T000000Z,
/// us-east-1, the documentation's example key. Signatures are copied exactly as published.
@Suite struct S3SigningExampleTests {
    static let signer = SigV4Signer(
        credentials: AWSCredentials(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        ),
        region: "us-east-1",
        service: "s3"
    )
    static let time = AWSTimestamp(amzDate: "20130524T000000Z")!

    static func sign(
        _ method: HTTPMethod,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: [(String, String)] = [],
        payloadHash: String = SigV4Signer.emptyPayloadHash
    ) -> (SigV4Signature, SigV4Request) {
        var request = SigV4Request(
            method: method,
            path: path,
            query: query,
            headers: HTTPHeaders([("Host", "examplebucket.s3.amazonaws.com")] + headers)
        )
        let signature = Self.signer.sign(&request, payloadHash: payloadHash, at: Self.time)
        return (signature, request)
    }

    /// The documentation writes the header without spaces after the commas; both forms are valid.
    static func published(_ authorization: String) -> String {
        authorization.replacing(",SignedHeaders=", with: ", SignedHeaders=").replacing(",Signature=", with: ", Signature=")
    }

    @Test func getObjectWithRange() {
        let (signed, request) = Self.sign(.GET, path: "/test.txt", headers: [("Range", "bytes=0-9")])
        #expect(
            signed.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """
        )
        #expect(
            signed.stringToSign == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """
        )
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(
            signed.authorization
                == Self.published(
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
                )
        )
        #expect(request.headers["x-amz-content-sha256"] == [SigV4Signer.emptyPayloadHash])
    }

    @Test func putObject() {
        let body = ByteBuffer(string: "Welcome to Amazon S3.")
        let payloadHash = SigV4Signer.payloadHash(of: body)
        #expect(payloadHash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        // The key `test$file.text`, encoded once as S3 wants it.
        let path = "/" + SigV4Signer.uriEncode("test$file.text", keepingSlashes: true)
        let (signed, _) = Self.sign(
            .PUT,
            path: path,
            headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            payloadHash: payloadHash
        )
        #expect(
            signed.canonicalRequest == """
                PUT
                /test%24file.text

                date:Fri, 24 May 2013 00:00:00 GMT
                host:examplebucket.s3.amazonaws.com
                x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
                x-amz-date:20130524T000000Z
                x-amz-storage-class:REDUCED_REDUNDANCY

                date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class
                44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
                """
        )
        #expect(
            signed.stringToSign.hasSuffix("\n9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d")
        )
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
        #expect(
            signed.authorization
                == Self.published(
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
                )
        )
    }

    @Test func getBucketLifecycle() {
        let (signed, request) = Self.sign(.GET, path: "/", query: [("lifecycle", "")])
        #expect(signed.canonicalRequest.hasPrefix("GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"))
        #expect(
            signed.stringToSign.hasSuffix("\n9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca")
        )
        #expect(signed.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        #expect(request.target == "/?lifecycle=")
    }

    @Test func listObjects() {
        let (signed, request) = Self.sign(.GET, path: "/", query: [("prefix", "J"), ("max-keys", "2")])
        #expect(signed.canonicalRequest.hasPrefix("GET\n/\nmax-keys=2&prefix=J\n"))
        #expect(
            signed.stringToSign.hasSuffix("\ndf57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7")
        )
        #expect(signed.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
        #expect(request.target == "/?max-keys=2&prefix=J")
    }

    /// S3 signs the path as sent: an encoded key is not encoded a second time.
    @Test func s3PathIsNotEncodedTwice() {
        let (s3, _) = Self.sign(.GET, path: "/dir/a%20b")
        #expect(s3.canonicalRequest.hasPrefix("GET\n/dir/a%20b\n"))
        var other = SigV4Request(method: .GET, path: "/dir/a%20b", headers: HTTPHeaders([("Host", "example.com")]))
        let lambda = SigV4Signer(credentials: Self.signer.credentials, region: "us-east-1", service: "lambda")
        #expect(lambda.sign(&other, payloadHash: SigV4Signer.emptyPayloadHash, at: Self.time).canonicalRequest.hasPrefix("GET\n/dir/a%2520b\n"))
        #expect(other.headers["x-amz-content-sha256"].isEmpty)
    }

    @Test func unsignedPayload() {
        let (signed, request) = Self.sign(.PUT, path: "/big", payloadHash: SigV4Signer.unsignedPayload)
        #expect(signed.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
        #expect(request.headers["x-amz-content-sha256"] == ["UNSIGNED-PAYLOAD"])
    }

    @Test func uriEncoding() {
        #expect(SigV4Signer.uriEncode("a b/c~d_e.f-g", keepingSlashes: true) == "a%20b/c~d_e.f-g")
        #expect(SigV4Signer.uriEncode("a/b", keepingSlashes: false) == "a%2Fb")
        #expect(SigV4Signer.uriEncode("+=&?#%é", keepingSlashes: true) == "%2B%3D%26%3F%23%25%C3%A9")
        #expect(SigV4Signer.canonicalQuery([("b", "2"), ("a", "x y"), ("a", "1")]) == "a=1&a=x%20y&b=2")
    }
}
