import AWSAccess
import InfiniCOS
import InfiniMetadata
import MetadataTestSupport
import Testing

/// The proxy's metadata log in a real (moto) S3 bucket: batches, a checkpoint that deletes the
/// batches it replaces with DeleteObjects, and recovery by listing and reading them back.
@Suite struct S3MetadataLogTests {
    @Test func theLogComesBackFromS3AfterACheckpoint() async throws {
        try await MotoServer.with { moto in
            let client = try moto.s3Client()
            defer { client.shutdown() }
            // moto cannot check a listing whose prefix holds `/` (see MotoServer): the log lists
            // its prefix, `metadata`, so the storage adds none with a slash.
            let storage = S3ObjectStorage(client: client, bucket: "metadata", keyPrefix: "proxy-a.")
            try await storage.createBucketIfMissing()
            var expected = MetadataState()
            func write(_ log: COSMetadataLog, versions: ClosedRange<UInt64>) async throws {
                for version in versions {
                    let record = MetadataRecord.commit(key: sampleKey(version: version, keyCount: 40), entry: sampleMetadata(version: version))
                    expected.apply(record)
                    try await log.waitUntilDurable(try log.write(record))
                }
            }

            let (log, _) = try await COSMetadataLog.open(storage: storage)
            try await write(log, versions: 1...30)
            let boundary = try log.beginCheckpoint()
            try await log.checkpoint(expected.entries.map { (key: $0.key, value: $0.value) }, at: boundary)
            try await write(log, versions: 31...45)
            try await log.shutDown()

            // One checkpoint and the 15 batches after it; the 30 before it are gone.
            let names = try await storage.list(prefix: "metadata").map(\.rawValue)
            #expect(names.filter { $0.hasPrefix("metadata/checkpoints/") }.count == 1)
            #expect(names.filter { $0.hasPrefix("metadata/log/") }.count == 15)

            let (reopened, recovery) = try await COSMetadataLog.open(storage: storage)
            #expect(recovery.state == expected)
            #expect(recovery.replayedRecords == 15)
            try await reopened.shutDown()
        }
    }
}
