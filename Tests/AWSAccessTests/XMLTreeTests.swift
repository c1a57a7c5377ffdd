@testable import AWSAccess
import NIOCore
import NIOHTTP1
import Testing

@Suite struct XMLTreeTests {
    @Test func listObjectsV2Page() throws {
        let document = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name><Prefix>a/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
              <IsTruncated>true</IsTruncated>
              <Contents><Key>a/one</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><Size>5</Size></Contents>
              <Contents><Key>a/t&amp;w&lt;o&gt;&#x41;&#66;</Key><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>
              <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
            </ListBucketResult>
            """
        let page = try S3Client.parseListing(ByteBuffer(string: document), "LIST test")
        #expect(page.objects == [.init(key: "a/one", size: 5), .init(key: "a/t&w<o>AB", size: 0)])
        #expect(page.nextContinuationToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    }

    @Test func lastPageHasNoToken() throws {
        let document = "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>"
        let page = try S3Client.parseListing(ByteBuffer(string: document), "LIST test")
        #expect(page.objects.isEmpty)
        #expect(page.nextContinuationToken == nil)
    }

    @Test func truncatedListingWithoutTokenIsRefused() {
        let document = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"
        #expect(throws: AWSError.self) { try S3Client.parseListing(ByteBuffer(string: document), "LIST test") }
    }

    @Test func errorDocumentIsQuoted() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key &amp; signing method.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>
            """
        let response = AWSResponse(status: .forbidden, headers: [:], body: ByteBuffer(string: body))
        let error = S3Client.error(response, "PUT bucket/key")
        #expect(
            error.message
                == "S3 PUT bucket/key refused: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key & signing method."
        )
        #expect(error.serviceCode == "SignatureDoesNotMatch")
        #expect(error.status == 403)
        #expect(error.code == .refused)
        #expect(!error.isRetryable)
    }

    @Test func errorWithoutDocumentNamesTheStatus() {
        let response = AWSResponse(status: .serviceUnavailable, headers: [:], body: ByteBuffer())
        let error = S3Client.error(response, "HEAD bucket/key")
        #expect(error.message == "S3 HEAD bucket/key refused: 503 Service Unavailable")
        #expect(error.isRetryable)
    }

    @Test func entitiesCDATAAndComments() throws {
        let tree = try XMLTree.parse(
            Array("<a><!-- note --><b>&quot;x&apos; &#233;&#x1F600;</b><c><![CDATA[<not> &amp; parsed]]></c><d/></a>".utf8)
        )
        #expect(tree.text(of: "b") == "\"x' é😀")
        #expect(tree.text(of: "c") == "<not> &amp; parsed")
        #expect(tree.child("d")?.text == "")
        #expect(tree.children.map(\.name) == ["b", "c", "d"])
    }

    @Test func namespacePrefixesAndAttributesAreDropped() throws {
        let tree = try XMLTree.parse(Array(#"<s:Root xmlns:s="urn:x" a='1>2'><s:Key k="v">k</s:Key></s:Root>"#.utf8))
        #expect(tree.name == "Root")
        #expect(tree.text(of: "Key") == "k")
    }

    @Test(arguments: [
        "",
        "text only",
        "<a>",
        "<a></b>",
        "<a>&unknown;</a>",
        "<a>&#0;</a>",
        "<a>&#xD800;</a>",
        "<a>&#+65;</a>",
        "<a>&amp</a>",
        "<a><![CDATA[open</a>",
        "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
        "<a></a><b></b>",
        "<a x=\"unterminated></a>",
    ])
    func malformedDocumentsAreRefused(_ text: String) {
        #expect(throws: XMLError.self) { try XMLTree.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: XMLError.self) { try XMLTree.parse([0x3C, 0x61, 0x3E, 0xC3, 0x28, 0x3C, 0x2F, 0x61, 0x3E]) }
    }

    @Test func nestingIsBounded() throws {
        let deep = String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40)
        #expect(throws: XMLError.self) { try XMLTree.parse(Array(deep.utf8)) }
        let fine = String(repeating: "<a>", count: 10) + "x" + String(repeating: "</a>", count: 10)
        #expect(try XMLTree.parse(Array(fine.utf8)).name == "a")
    }
}
