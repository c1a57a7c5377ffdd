@testable import AWSAccess
import NIOCore
import Testing

@Suite struct DeleteObjectsTests {
    /// RFC 4648's test vectors.
    @Test func base64MatchesTheRFC() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (input, expected) in vectors { #expect(Base64.encode(Array(input.utf8)) == expected, "\(input)") }
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }

    @Test func keysAreEscapedForTheRequestBody() {
        #expect(XMLTree.escaped(#"a&b<c>d"e'f"#) == "a&amp;b&lt;c&gt;d&quot;e&apos;f")
        #expect(XMLTree.escaped("chunks/a0/12-0-3") == "chunks/a0/12-0-3")
    }

    /// S3 answers a DeleteObjects request with 200 even when some keys failed: each failure is an
    /// `<Error>` in the body, and the first one is what the caller hears about.
    @Test func aFailedKeyInTheAnswerIsAnError() throws {
        let quiet = ByteBuffer(string: #"<?xml version="1.0"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#)
        try S3Client.checkDeleteResult(quiet, "DELETE b (2 keys)")
        try S3Client.checkDeleteResult(ByteBuffer(), "DELETE b (2 keys)")

        let failed = ByteBuffer(
            string: "<DeleteResult><Deleted><Key>ok</Key></Deleted><Error><Key>locked</Key><Code>AccessDenied</Code>"
                + "<Message>Access Denied</Message></Error></DeleteResult>"
        )
        let error = #expect(throws: AWSError.self) { try S3Client.checkDeleteResult(failed, "DELETE b (2 keys)") }
        #expect(error?.message == "S3 DELETE b (2 keys) refused locked: AccessDenied: Access Denied")
        #expect(error?.serviceCode == "AccessDenied")

        #expect(throws: AWSError.self) { try S3Client.checkDeleteResult(ByteBuffer(string: "<Other/>"), "x") }
    }
}
