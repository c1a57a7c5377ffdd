import AWSAccess
import NIOCore
import NIOHTTP1
import Testing

/// The AWS Signature Version 4 test suite (`aws-sig-v4-test-suite`, 2015 edition): requests to
/// service `service` in `us-east-1` at 20150830T123600Z with the suite's example key. Expected
/// values are copied exactly from the suite's `.creq`, `.sts` and `.authz` files.
@Suite struct SigV4TestSuiteTests {
    static let signer = SigV4Signer(
        credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1",
        service: "service"
    )
    static let time = AWSTimestamp(amzDate: "20150830T123600Z")!

    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPMethod
        var path: String
        var query: [(name: String, value: String)] = []
        var headers: [(String, String)] = []
        var body: String = ""
        var authorization: String

        var testDescription: String { self.name }
    }

    static func sign(_ vector: Vector, signer: SigV4Signer = Self.signer) -> SigV4Signature {
        var headers = HTTPHeaders([("Host", "example.amazonaws.com")])
        headers.add(contentsOf: vector.headers)
        var request = SigV4Request(method: vector.method, path: vector.path, query: vector.query, headers: headers)
        let payload = vector.body.isEmpty ? SigV4Signer.emptyPayloadHash : SigV4Signer.payloadHash(of: .init(string: vector.body))
        return signer.sign(&request, payloadHash: payload, at: Self.time)
    }

    static func authorization(signedHeaders: String, signature: String) -> String {
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    static let vectors: [Vector] = [
        Vector(
            name: "get-vanilla", method: .GET, path: "/",
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        ),
        Vector(
            name: "get-vanilla-query-order-key-case", method: .GET, path: "/",
            query: [("Param2", "value2"), ("Param1", "value1")],
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        ),
        Vector(
            name: "get-vanilla-query-order-value", method: .GET, path: "/",
            query: [("Param1", "value2"), ("Param1", "value1")],
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")
        ),
        Vector(
            name: "get-vanilla-empty-query-key", method: .GET, path: "/",
            query: [("Param1", "value1")],
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")
        ),
        Vector(
            name: "get-vanilla-query-unreserved", method: .GET, path: "/",
            query: [(
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            )],
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")
        ),
        Vector(
            name: "get-vanilla-utf8-query", method: .GET, path: "/", query: [("ሴ", "bar")],
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")
        ),
        Vector(
            name: "get-unreserved", method: .GET,
            path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")
        ),
        Vector(
            name: "get-utf8", method: .GET, path: "/ሴ",
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")
        ),
        Vector(
            name: "get-space", method: .GET, path: "/example space/",
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")
        ),
        Vector(
            name: "get-header-key-duplicate", method: .GET, path: "/",
            headers: [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            authorization: authorization(
                signedHeaders: "host;my-header1;x-amz-date",
                signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")
        ),
        Vector(
            name: "get-header-value-order", method: .GET, path: "/",
            headers: [
                ("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2"),
            ],
            authorization: authorization(
                signedHeaders: "host;my-header1;x-amz-date",
                signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01")
        ),
        Vector(
            name: "get-header-value-trim", method: .GET, path: "/",
            headers: [("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            authorization: authorization(
                signedHeaders: "host;my-header1;my-header2;x-amz-date",
                signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")
        ),
        Vector(
            name: "post-vanilla", method: .POST, path: "/",
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
        ),
        Vector(
            name: "post-vanilla-query", method: .POST, path: "/", query: [("Param1", "value1")],
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")
        ),
        Vector(
            name: "post-vanilla-query-nonunreserved", method: .POST, path: "/",
            query: [("@#$%^", ""), ("+", "/,?><`\";:\\|][{}")],
            authorization: authorization(
                signedHeaders: "host;x-amz-date",
                signature: "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e")
        ),
        Vector(
            name: "post-header-key-sort", method: .POST, path: "/", headers: [("My-Header1", "value1")],
            authorization: authorization(
                signedHeaders: "host;my-header1;x-amz-date",
                signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c")
        ),
        Vector(
            name: "post-header-value-case", method: .POST, path: "/", headers: [("My-Header1", "VALUE1")],
            authorization: authorization(
                signedHeaders: "host;my-header1;x-amz-date",
                signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d")
        ),
        Vector(
            name: "post-x-www-form-urlencoded", method: .POST, path: "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
            authorization: authorization(
                signedHeaders: "content-type;host;x-amz-date",
                signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")
        ),
        Vector(
            name: "post-x-www-form-urlencoded-parameters", method: .POST, path: "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf8")], body: "Param1=value1",
            authorization: authorization(
                signedHeaders: "content-type;host;x-amz-date",
                signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe")
        ),
    ]

    @Test(arguments: Self.vectors)
    func authorizationMatchesTheSuite(_ vector: Vector) {
        #expect(Self.sign(vector).authorization == vector.authorization)
    }

    @Test func getVanillaStepByStep() {
        let signed = Self.sign(Self.vectors[0])
        #expect(
            signed.canonicalRequest == """
                GET
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """
        )
        #expect(
            signed.stringToSign == """
                AWS4-HMAC-SHA256
                20150830T123600Z
                20150830/us-east-1/service/aws4_request
                bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
                """
        )
    }

    @Test func postFormStepByStep() {
        let vector = Self.vectors.first { $0.name == "post-x-www-form-urlencoded" }!
        let signed = Self.sign(vector)
        #expect(
            signed.canonicalRequest == """
                POST
                /

                content-type:application/x-www-form-urlencoded
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                content-type;host;x-amz-date
                9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
                """
        )
        #expect(
            signed.stringToSign == """
                AWS4-HMAC-SHA256
                20150830T123600Z
                20150830/us-east-1/service/aws4_request
                42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281
                """
        )
    }

    @Test func queryOrderValueCanonicalRequest() {
        let vector = Self.vectors.first { $0.name == "get-vanilla-query-order-value" }!
        #expect(
            Self.sign(vector).canonicalRequest == """
                GET
                /
                Param1=value1&Param1=value2
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """
        )
    }

    /// post-sts-header-before: the session token is a signed header.
    @Test func sessionTokenIsSigned() {
        let token =
            "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTfl"
            + "fKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvl"
            + "Rd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4"
            + "rvx3iSIlTJabIQwj2ICCR/oLxBA=="
        var signer = Self.signer
        signer.credentials.sessionToken = token
        let signed = Self.sign(Vector(name: "post-sts-header-before", method: .POST, path: "/", authorization: ""), signer: signer)
        #expect(
            signed.authorization
                == Self.authorization(
                    signedHeaders: "host;x-amz-date;x-amz-security-token",
                    signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
                )
        )
    }

    @Test func signingAgainReplacesTheOldSignature() {
        var request = SigV4Request(method: .GET, path: "/", headers: HTTPHeaders([("Host", "example.amazonaws.com")]))
        Self.signer.sign(&request, payloadHash: SigV4Signer.emptyPayloadHash, at: AWSTimestamp(secondsSince1970: 0))
        let signed = Self.signer.sign(&request, payloadHash: SigV4Signer.emptyPayloadHash, at: Self.time)
        #expect(request.headers["Authorization"] == [signed.authorization])
        #expect(request.headers["X-Amz-Date"] == ["20150830T123600Z"])
        #expect(signed.authorization == Self.vectors[0].authorization)
    }
}
