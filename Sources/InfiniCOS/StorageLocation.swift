public import AWSAccess

/// Where the COS lives, as written in configuration and flags: `file:PATH` (a directory;
/// relative paths are taken from the current directory) or `s3://BUCKET[/PREFIX]`.
public enum StorageLocation: Sendable, Hashable, CustomStringConvertible {
    case directory(String)
    case s3(bucket: String, keyPrefix: String)

    /// - Throws: ``ObjectStorageError`` `.invalidName` saying which forms are accepted.
    public init(parsing text: String) throws {
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else {
                throw ObjectStorageError(.invalidName, "storage location '\(text)' names no directory (use file:PATH)")
            }
            self = .directory(path)
        } else if text.hasPrefix("s3://") {
            let rest = text.dropFirst(5)
            let bucket = String(rest.prefix { $0 != "/" })
            guard S3Client.isValidBucketName(bucket) else {
                throw ObjectStorageError(.invalidName, "storage location '\(text)' has no valid S3 bucket name")
            }
            var prefix = String(rest.dropFirst(bucket.count + 1))
            if !prefix.isEmpty, !prefix.hasSuffix("/") { prefix += "/" }
            guard prefix.isEmpty || ObjectName.isValid(String(prefix.dropLast())) else {
                throw ObjectStorageError(.invalidName, "storage location '\(text)' has an invalid key prefix")
            }
            self = .s3(bucket: bucket, keyPrefix: prefix)
        } else {
            throw ObjectStorageError(
                .invalidName,
                "storage location '\(text)' is neither file:PATH nor s3://BUCKET[/PREFIX]"
            )
        }
    }

    public var description: String {
        switch self {
        case .directory(let path): "file:\(path)"
        case .s3(let bucket, let prefix): prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix.dropLast())"
        }
    }

    /// The storage, with S3 credentials, region and endpoint from the environment
    /// (``AWSCredentials/fromEnvironment()``, `AWS_REGION`, `AWS_ENDPOINT_URL_S3`, ...).
    /// A directory is created when missing.
    public func open() async throws -> any ObjectStorage {
        switch self {
        case .directory:
            return try await self.open(s3: nil)
        case .s3:
            do {
                return try await self.open(s3: S3Client.Configuration(credentials: AWSCredentials.fromEnvironment()))
            } catch let error as AWSError {
                throw ObjectStorageError(.accessDenied, "cannot open \(self): \(error.message)")
            }
        }
    }

    /// The storage, with S3 settings given (`s3` is unused for a directory, and required
    /// for S3). A directory is created when missing.
    public func open(s3 configuration: S3Client.Configuration?) async throws -> any ObjectStorage {
        switch self {
        case .directory(let path):
            return try await FileObjectStorage.create(root: path)
        case .s3(let bucket, let prefix):
            guard let configuration else {
                throw ObjectStorageError(.accessDenied, "cannot open \(self): no S3 configuration given")
            }
            do {
                return S3ObjectStorage(client: try S3Client(configuration: configuration), bucket: bucket, keyPrefix: prefix)
            } catch {
                throw ObjectStorageError(S3ObjectStorage.storageError(error).kind, "cannot open \(self): \(error.message)")
            }
        }
    }
}
