public import AWSAccess
public import NIOCore

/// ``ObjectStorage`` in an S3 bucket, every name stored under an optional key prefix.
public struct S3ObjectStorage: ObjectStorage {
    public let client: S3Client
    public let bucket: String
    /// Put before every name; empty or ending in `/` by convention (`infinistore/`).
    public let keyPrefix: String

    public init(client: S3Client, bucket: String, keyPrefix: String = "") {
        self.client = client
        self.bucket = bucket
        self.keyPrefix = keyPrefix
    }

    /// Creates the bucket unless it exists and is yours already (first use, tests).
    public func createBucketIfMissing() async throws {
        try await self.mapErrors { try await self.client.createBucket(self.bucket) }
    }

    public func put(_ name: ObjectName, bytes: ByteBuffer) async throws {
        try await self.mapErrors { try await self.client.putObject(bucket: self.bucket, key: self.key(name), body: bytes) }
    }

    public func create(_ name: ObjectName, bytes: ByteBuffer) async throws -> Bool {
        try await self.mapErrors { try await self.client.createObject(bucket: self.bucket, key: self.key(name), body: bytes) }
    }

    public func get(_ name: ObjectName, range: Range<Int>?) async throws -> ByteBuffer? {
        try await self.mapErrors {
            guard let range else {
                return try await self.client.getObject(bucket: self.bucket, key: self.key(name))
            }
            let start = max(range.lowerBound, 0)
            // An HTTP range cannot be empty: ask only whether the object exists.
            guard range.upperBound > start else {
                return try await self.client.headObject(bucket: self.bucket, key: self.key(name)) == nil ? nil : ByteBuffer()
            }
            return try await self.client.getObject(bucket: self.bucket, key: self.key(name), range: start...(range.upperBound - 1))
        }
    }

    public func size(of name: ObjectName) async throws -> Int? {
        try await self.mapErrors { try await self.client.headObject(bucket: self.bucket, key: self.key(name)) }
    }

    public func delete(_ name: ObjectName) async throws {
        try await self.mapErrors { try await self.client.deleteObject(bucket: self.bucket, key: self.key(name)) }
    }

    /// Up to 1000 names per DeleteObjects request, a few requests at a time.
    public func delete(_ names: [ObjectName]) async throws {
        let batches = stride(from: 0, to: names.count, by: S3Client.maxKeysPerDelete).map { start in
            names[start..<min(start + S3Client.maxKeysPerDelete, names.count)].map(self.key)
        }
        try await self.mapErrors {
            try await forEachConcurrently(batches, limit: 4) { keys in
                try await self.client.deleteObjects(bucket: self.bucket, keys: keys)
            }
        }
    }

    public func list(prefix: String) async throws -> [ObjectName] {
        try await self.mapErrors {
            var names: [ObjectName] = []
            var token: String?
            repeat {
                let page = try await self.client.listObjects(
                    bucket: self.bucket,
                    prefix: self.keyPrefix + prefix,
                    continuationToken: token
                )
                for object in page.objects {
                    // Keys written by something else may not be valid names; they are not ours.
                    guard object.key.hasPrefix(self.keyPrefix),
                        let name = try? ObjectName(String(object.key.dropFirst(self.keyPrefix.count)))
                    else { continue }
                    names.append(name)
                }
                token = page.nextContinuationToken
            } while token != nil
            // S3 lists in UTF-8 byte order already; sorting keeps the promise for any server.
            return names.sorted()
        }
    }

    private func key(_ name: ObjectName) -> String {
        self.keyPrefix + name.rawValue
    }

    private func mapErrors<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as AWSError {
            throw Self.storageError(error)
        }
    }

    /// S3's refusals by meaning: credentials and signatures, missing bucket, server trouble.
    static func storageError(_ error: AWSError) -> ObjectStorageError {
        let accessCodes: Set = [
            "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
            "TokenRefreshRequired", "AllAccessDisabled", "RequestTimeTooSkewed",
        ]
        let kind: ObjectStorageError.Kind
        switch error.code {
        case .refused:
            if let code = error.serviceCode, accessCodes.contains(code) {
                kind = .accessDenied
            } else if error.serviceCode == "NoSuchBucket" {
                kind = .missingContainer
            } else if error.serviceCode == "KeyTooLongError" {
                kind = .invalidName
            } else if error.status == 403 {
                kind = .accessDenied
            } else if (error.status ?? 0) >= 500 {
                kind = .unavailable
            } else {
                kind = .badResponse
            }
        case .invalidArgument:
            kind = .invalidName
        case .connectionFailed, .timedOut:
            kind = .unavailable
        default:
            kind = .badResponse
        }
        return ObjectStorageError(kind, error.message)
    }
}
