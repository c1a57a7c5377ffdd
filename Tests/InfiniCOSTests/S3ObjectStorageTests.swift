import AWSAccess
import InfiniCOS
import NIOCore
import Testing

/// ``S3ObjectStorage`` against a real `moto_server` that checks every request's signature.
@Suite struct S3ObjectStorageTests {
    @Test func conformance() async throws {
        try await MotoServer.with { moto in
            let client = try moto.s3Client()
            defer { client.shutdown() }
            let storage = S3ObjectStorage(client: client, bucket: "conformance", keyPrefix: "store-")
            try await storage.createBucketIfMissing()
            try await storage.createBucketIfMissing()
            for (index, check) in ConformanceCheck.all.enumerated() {
                try await check.run(storage, Namespace(prefix: "check\(index)-", separator: "."))
            }
            // The bucket holds the key prefix the storage added, and only that.
            let keys = try await client.listObjects(bucket: "conformance", prefix: "").objects.map(\.key)
            #expect(!keys.isEmpty && keys.allSatisfy { $0.hasPrefix("store-check") })
        }
    }

    @Test func listingAndDeletingPastOnePage() async throws {
        try await MotoServer.with { moto in
            let client = try moto.s3Client()
            defer { client.shutdown() }
            let storage = S3ObjectStorage(client: client, bucket: "many-objects")
            try await storage.createBucketIfMissing()
            let names = try (0..<1_030).map { try ObjectName("many-\(String($0, radix: 16))") }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in stride(from: 0, to: names.count, by: 103) {
                    group.addTask {
                        for name in names[batch..<min(batch + 103, names.count)] {
                            try await storage.put(name, bytes: ByteBuffer(string: name.rawValue))
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await storage.put(ObjectName("other"), bytes: ByteBuffer(string: "not listed"))
            let firstPage = try await client.listObjects(bucket: "many-objects", prefix: "many-")
            #expect(firstPage.objects.count == S3Client.maxKeysPerPage)
            #expect(firstPage.nextContinuationToken != nil)
            #expect(try await storage.list(prefix: "many-") == names.sorted())
            // Deleting them all at once takes two DeleteObjects requests, and leaves the rest.
            try await storage.delete(names + [ObjectName("many-never-was")])
            #expect(try await storage.list(prefix: "many-").isEmpty)
            #expect(try await storage.get(ObjectName("other")) == ByteBuffer(string: "not listed"))
        }
    }

    @Test func signaturesAreChecked() async throws {
        try await MotoServer.with { moto in
            let client = try moto.s3Client()
            defer { client.shutdown() }
            let storage = S3ObjectStorage(client: client, bucket: "signed")
            try await storage.createBucketIfMissing()
            let name = try ObjectName("key")
            try await storage.put(name, bytes: ByteBuffer(string: "right key"))
            #expect(try await storage.get(name) == ByteBuffer(string: "right key"))

            var wrongSecret = moto.credentials
            wrongSecret.secretAccessKey += "x"
            let forged = try moto.s3Client(credentials: wrongSecret)
            defer { forged.shutdown() }
            let forgedStorage = S3ObjectStorage(client: forged, bucket: "signed")
            let putError = await #expect(throws: ObjectStorageError.self) {
                try await forgedStorage.put(name, bytes: ByteBuffer(string: "forged"))
            }
            #expect(putError?.kind == .accessDenied)
            #expect(putError?.message.hasPrefix("S3 PUT signed/key refused: SignatureDoesNotMatch: ") == true)
            let getError = await #expect(throws: ObjectStorageError.self) { try await forgedStorage.get(name) }
            #expect(getError?.kind == .accessDenied)
            #expect(getError?.message.contains("SignatureDoesNotMatch") == true)

            let stranger = try moto.s3Client(credentials: AWSCredentials(accessKeyID: "AKIAUNKNOWN", secretAccessKey: "x"))
            defer { stranger.shutdown() }
            let strangerError = await #expect(throws: ObjectStorageError.self) {
                try await S3ObjectStorage(client: stranger, bucket: "signed").list(prefix: "")
            }
            #expect(strangerError?.kind == .accessDenied)
            #expect(strangerError?.message.contains("InvalidAccessKeyId") == true)

            #expect(try await storage.get(name) == ByteBuffer(string: "right key"))
        }
    }

    @Test func missingBucketIsAMissingContainer() async throws {
        try await MotoServer.with { moto in
            let client = try moto.s3Client()
            defer { client.shutdown() }
            let storage = S3ObjectStorage(client: client, bucket: "never-created")
            let putError = await #expect(throws: ObjectStorageError.self) {
                try await storage.put(ObjectName("k"), bytes: ByteBuffer(string: "x"))
            }
            #expect(putError?.kind == .missingContainer)
            #expect(putError?.message.contains("NoSuchBucket") == true)
            let listError = await #expect(throws: ObjectStorageError.self) { try await storage.list(prefix: "") }
            #expect(listError?.kind == .missingContainer)
            // The location form opens the same storage.
            let opened = try await StorageLocation(parsing: "s3://opened/prefix").open(s3: moto.s3Configuration())
            try await (opened as! S3ObjectStorage).createBucketIfMissing()
            try await opened.put(ObjectName("k"), bytes: ByteBuffer(string: "v"))
            #expect(try await client.getObject(bucket: "opened", key: "prefix/k") == ByteBuffer(string: "v"))
            (opened as! S3ObjectStorage).client.shutdown()
        }
    }

    @Test func httpsWithAPrivateCertificate() async throws {
        try await MotoServer.with(tls: true) { moto in
            #expect(moto.endpoint.hasPrefix("https://"))
            let client = try moto.s3Client()
            defer { client.shutdown() }
            let storage = S3ObjectStorage(client: client, bucket: "secure")
            try await storage.createBucketIfMissing()
            let name = try ObjectName("over-tls")
            let bytes = ByteBuffer(bytes: randomBytes(count: 300_000))
            try await storage.put(name, bytes: bytes)
            #expect(try await storage.get(name) == bytes)
            #expect(try await storage.get(name, range: 1_000..<2_000) == bytes.getSlice(at: 1_000, length: 1_000))

            // Without the certificate among its trust roots, the client refuses the server.
            var untrusting = moto.s3Configuration()
            untrusting.http.additionalTrustRootsPEMFile = nil
            untrusting.http.retry = .never
            let stranger = try S3Client(configuration: untrusting)
            defer { stranger.shutdown() }
            let error = await #expect(throws: ObjectStorageError.self) {
                try await S3ObjectStorage(client: stranger, bucket: "secure").get(name)
            }
            #expect(error?.kind == .unavailable)
            #expect(error?.message.hasPrefix("S3 GET secure/over-tls failed (\(moto.endpoint)): ") == true)
            #expect(error?.message.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(String(describing: error))")
        }
    }
}
