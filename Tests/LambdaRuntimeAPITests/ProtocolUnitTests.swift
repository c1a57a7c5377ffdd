#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

@testable import LambdaRuntimeAPI

@Suite("Runtime API helpers")
struct ProtocolUnitTests {
    @Test(arguments: [
        ("127.0.0.1:9001", "127.0.0.1", 9001),
        ("localhost:80", "localhost", 80),
        ("[::1]:65535", "::1", 65535),
        ("169.254.100.1:9001", "169.254.100.1", 9001),
    ])
    func validEndpointsParse(_ endpoint: String, host: String, port: Int) throws {
        let parsed = try RuntimeAPIProtocol.parseEndpoint(endpoint)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
    }

    @Test(arguments: [
        "", "localhost", "localhost:", ":9001", "host:0", "host:65536", "host:+80", "host:8o", "::1:9001", "[]:80",
    ])
    func invalidEndpointsAreRejected(_ endpoint: String) {
        #expect(throws: RuntimeAPIError.self) { try RuntimeAPIProtocol.parseEndpoint(endpoint) }
        #expect(throws: RuntimeAPIError.self) { try RuntimeAPIClient(endpoint: endpoint) }
    }

    @Test func clientReadsItsEndpointFromTheEnvironment() throws {
        let name = RuntimeAPIProtocol.environmentVariable
        let saved = RuntimeAPIProtocol.environmentValue(name)
        defer {
            if let saved { setenv(name, saved, 1) } else { unsetenv(name) }
        }
        setenv(name, "127.0.0.1:9009", 1)
        let client = try RuntimeAPIClient.fromEnvironment()
        #expect(client.host == "127.0.0.1")
        #expect(client.port == 9009)

        unsetenv(name)
        let error = #expect(throws: RuntimeAPIError.self) { try RuntimeAPIClient.fromEnvironment() }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(name) == true)
    }

    @Test func requestIDsAreUniqueVersion4UUIDs() {
        let ids = (0..<1000).map { _ in RuntimeAPIProtocol.makeRequestID() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            let groups = id.split(separator: "-", omittingEmptySubsequences: false)
            #expect(groups.map(\.count) == [8, 4, 4, 4, 12])
            #expect(groups[2].first == "4")
            #expect("89ab".contains(groups[3].first!))
            #expect(id.allSatisfy { $0 == "-" || $0.isHexDigit && !$0.isUppercase })
            #expect(RuntimeAPIProtocol.isValidRequestID(id))
        }
    }

    @Test func requestIDValidationKeepsPathsIntact() {
        #expect(RuntimeAPIProtocol.isValidRequestID("8476a536-e9f4-11e8-9739-2dfe598c3fcd"))
        #expect(RuntimeAPIProtocol.isValidRequestID("req_1.A"))
        for bad in ["", "a/b", "../x", "a b", "a?b", "a%2F", "ü", String(repeating: "a", count: 129)] {
            #expect(!RuntimeAPIProtocol.isValidRequestID(bad), "\(bad)")
        }
    }

    @Test func traceIDLooksLikeAnXRayHeader() {
        let trace = RuntimeAPIProtocol.makeTraceID(epochMilliseconds: 1_542_409_706_888)
        #expect(trace.hasPrefix("Root=1-5bef4dea-"))
        #expect(trace.hasSuffix(";Sampled=0"))
        #expect(trace.utf8.count == "Root=1-".utf8.count + 8 + 1 + 24 + ";Sampled=0".utf8.count)
    }

    @Test(arguments: [
        (Duration.zero, Int64(0)),
        (.milliseconds(250), 250),
        (.microseconds(1), 1),
        (.nanoseconds(1_000_001), 2),
        (.seconds(-2), -2000),
        (.seconds(Int64.max), Int64.max),
    ])
    func durationsRoundUpToMilliseconds(_ duration: Duration, milliseconds: Int64) {
        #expect(duration.roundedUpMilliseconds == milliseconds)
    }

    @Test func wallClockIsUnixEpochMilliseconds() {
        let now = RuntimeAPIProtocol.currentEpochMilliseconds()
        // 2020-01-01 and 2100-01-01: catches seconds/microseconds mix-ups.
        #expect(now > 1_577_836_800_000)
        #expect(now < 4_102_444_800_000)
    }

    @Test func errorDescriptionsAreSingleLine() {
        let error = RuntimeAPIError(.timedOut, "first\nsecond\r\nthird")
        // "\r\n" is a single Character, so it becomes a single space.
        #expect(error.message == "first second third")
        #expect(error.description == "RuntimeAPIError.timedOut: first second third")
        #expect(RuntimeAPIError.Code.timedOut != RuntimeAPIError.Code.shutDown)
        #expect(error == RuntimeAPIError(.timedOut, "first\nsecond\r\nthird"))
    }
}

@Suite("Error document JSON")
struct ErrorDocumentTests {
    @Test(arguments: [
        ErrorDocument(type: "Unhandled", message: ""),
        ErrorDocument(type: "Runtime.Exit\"Error\"", message: "back\\slash / slash"),
        ErrorDocument(type: "T", message: "tabs\tnewlines\ncarriage\rnull\u{0}bell\u{7}del\u{7F}"),
        ErrorDocument(type: "ÜñÎçødé", message: "emoji 🚀 and CJK 漢字"),
    ])
    func encodingRoundTrips(_ document: ErrorDocument) throws {
        let encoded = document.encoded()
        #expect(!encoded.contains(0x0A) && !encoded.contains(0x00))
        let decoded = try #require(ErrorDocument.decodeMembers(encoded))
        #expect(decoded.type == document.type)
        #expect(decoded.message == document.message)
    }

    @Test func encodingMatchesTheLambdaErrorFormat() {
        let encoded = ErrorDocument(type: "T", message: "a\"b\u{1}").encoded()
        #expect(
            String(decoding: encoded, as: UTF8.self)
                == #"{"errorMessage":"a\"b\u0001","errorType":"T","stackTrace":[]}"#
        )
    }

    @Test func decodingHandlesEscapesWhitespaceAndOtherMembers() throws {
        let json = #"""
             {
              "stackTrace" : [ "frame 1", {"file": "a.swift", "line": 12}, [], null, true, false, -1.5e+3 ],
              "errorType":"Caf\u00e9\/Bar",
              "extra": {"nested": {"deeper": ["x"]}},
              "errorMessage" : "rocket \ud83d\ude80 lone \ud800 end\b\f"
             }
            """#
        let decoded = try #require(ErrorDocument.decodeMembers(Array(json.utf8)))
        #expect(decoded.type == "Café/Bar")
        #expect(decoded.message == "rocket 🚀 lone \u{FFFD} end\u{8}\u{C}")
    }

    @Test func nonStringMembersAreIgnored() throws {
        let decoded = try #require(ErrorDocument.decodeMembers(Array(#"{"errorType":42,"errorMessage":null}"#.utf8)))
        #expect(decoded.type == nil)
        #expect(decoded.message == nil)
    }

    @Test(arguments: [
        "", "[]", "\"text\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":\"\u{1}\"}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":1} trailing", "{\"a\":tru}", "{\"a\":[1 2]}",
        "segfault at 0x0",
    ])
    func invalidDocumentsAreRejected(_ text: String) {
        #expect(ErrorDocument.decodeMembers(Array(text.utf8)) == nil)
    }

    @Test func deepNestingIsRejectedWithoutExhaustingTheStack() {
        let deep = "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        #expect(ErrorDocument.decodeMembers(Array(deep.utf8)) == nil)
        let shallow =
            "{\"a\":" + String(repeating: "[", count: 60) + String(repeating: "]", count: 60) + ",\"errorType\":\"x\"}"
        #expect(ErrorDocument.decodeMembers(Array(shallow.utf8))?.type == "x")
    }
}
