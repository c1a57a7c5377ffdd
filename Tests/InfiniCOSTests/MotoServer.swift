import AWSAccess
import Foundation
import InfiniCOS
import NIOCore
import NIOHTTP1
import NIOPosix
import PortTestSupport
import ProcessSpawning
import ProcessTestSupport
import Testing

/// A `moto_server` (the S3 emulator from the Python package moto) on a free loopback port,
/// with request signatures checked.
///
/// moto checks signatures only once `INITIAL_NO_AUTH_ACTION_COUNT` requests have been served,
/// and only for access keys of IAM users it knows, which need a policy allowing the action. So
/// the server starts with that count at 3, and the first three requests (unchecked) create an
/// IAM user, its access key and an allow-all policy. From then on every request is checked:
/// an unknown key gets `InvalidAccessKeyId`, a wrong secret `SignatureDoesNotMatch`.
///
/// moto recomputes the signature from the path and query after decoding them, re-encoded by
/// other rules than SigV4's: it refuses correctly signed requests (boto3's too) whose key holds
/// one of ``!"$%&'()*+,:;<=>@[\]^`{|}`` or whose listing prefix holds `/`. The tests' names
/// for S3 avoid those; the wire encoding itself is checked in AWSAccessTests.
struct MotoServer: Sendable {
    let process: ChildProcess
    let port: Int
    /// The IAM user's key: the only one moto accepts.
    let credentials: AWSCredentials
    let logFile: URL
    /// The self-signed certificate the server uses when started with TLS.
    let certificateFile: String?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `body` with a fresh server (on https with a new self-signed certificate for
    /// 127.0.0.1 when `tls`) and stops the server afterwards, whatever happens.
    static func with<Result>(tls: Bool = false, _ body: (MotoServer) async throws -> Result) async throws -> Result {
        let server = try await Self.start(tls: tls)
        do {
            let result = try await body(server)
            await server.process.stop()
            return result
        } catch {
            await server.process.stop()
            throw error
        }
    }

    static func start(tls: Bool) async throws -> MotoServer {
        let check = try await runProcessOffThePool(
            "/usr/bin/env",
            ["python3", "-c", "import moto.server"],
            mergingStandardError: true
        )
        guard check.status == 0 else {
            throw Failure(description: "moto is not installed (python3 cannot import moto.server): run `make deps`")
        }
        let port = try freeLoopbackPort()
        let files = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(port)-\(UUID())")
        let logFile = files.appendingPathExtension("log")
        var arguments = ["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)]
        var certificateFile: String?
        if tls {
            let (certificate, key) = try await Self.makeCertificate(base: files.path)
            arguments += ["-c", certificate, "-k", key]
            certificateFile = certificate
        }
        let process = try startProcess(
            "/usr/bin/env",
            arguments,
            environment: ["INITIAL_NO_AUTH_ACTION_COUNT": String(Self.setupRequests)],
            logFile: logFile
        )
        do {
            try await Self.waitUntilListening(port: port, process: process, logFile: logFile)
            let endpoint = "\(tls ? "https" : "http")://127.0.0.1:\(port)"
            let credentials = try await Self.createUser(endpoint: endpoint, trusting: certificateFile)
            return MotoServer(
                process: process,
                port: port,
                credentials: credentials,
                logFile: logFile,
                certificateFile: certificateFile
            )
        } catch {
            await process.stop()
            throw error
        }
    }

    var endpoint: String { "\(self.certificateFile == nil ? "http" : "https")://127.0.0.1:\(self.port)" }

    func s3Client(credentials: AWSCredentials? = nil) throws -> S3Client {
        try S3Client(configuration: self.s3Configuration(credentials: credentials))
    }

    func s3Configuration(credentials: AWSCredentials? = nil) -> S3Client.Configuration {
        S3Client.Configuration(
            credentials: credentials ?? self.credentials,
            region: "us-east-1",
            endpoint: self.endpoint,
            // moto_server answers 500 now and then when one key is written and read at once
            // (its server logs "ValueError: I/O operation on closed file"); on a loaded CI
            // machine three attempts were not always enough to get past it.
            http: AWSClient.Configuration(
                retry: RetryPolicy(maxAttempts: 6, baseDelay: .milliseconds(20)),
                additionalTrustRootsPEMFile: self.certificateFile
            )
        )
    }

    /// A self-signed certificate for IP address 127.0.0.1 and its key, as PEM files.
    private static func makeCertificate(base: String) async throws -> (certificate: String, key: String) {
        let certificate = base + "-cert.pem"
        let key = base + "-key.pem"
        let result = try await runProcessOffThePool(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
            ],
            mergingStandardError: true
        )
        guard result.status == 0 else {
            throw Failure(description: "openssl could not make a certificate: \(String(decoding: result.output, as: UTF8.self))")
        }
        return (certificate, key)
    }

    /// The requests `createUser` makes before signatures count.
    private static let setupRequests = 3

    /// CreateUser, CreateAccessKey and PutUserPolicy through moto's IAM API.
    private static func createUser(endpoint: String, trusting certificateFile: String?) async throws -> AWSCredentials {
        let iam = try AWSClient(
            endpoint: AWSEndpoint(url: endpoint),
            signer: SigV4Signer(
                credentials: AWSCredentials(accessKeyID: "AKIASETUP", secretAccessKey: "setup"),
                region: "us-east-1",
                service: "iam"
            ),
            configuration: AWSClient.Configuration(additionalTrustRootsPEMFile: certificateFile)
        )
        defer { iam.shutdown() }
        func call(_ parameters: [(name: String, value: String)]) async throws -> String {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")
            let form = SigV4Signer.canonicalQuery(parameters + [(name: "Version", value: "2010-05-08")])
            let response = try await iam.send(.POST, path: "/", headers: headers, body: ByteBuffer(string: form))
            let text = String(buffer: response.body)
            guard response.status == .ok else {
                throw Failure(description: "moto IAM \(parameters[0].value) failed: \(response.status.code) \(text)")
            }
            return text
        }
        let user = "infinistore-test"
        _ = try await call([("Action", "CreateUser"), ("UserName", user)])
        let key = try await call([("Action", "CreateAccessKey"), ("UserName", user)])
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        _ = try await call([
            ("Action", "PutUserPolicy"), ("UserName", user), ("PolicyName", "all"), ("PolicyDocument", policy),
        ])
        guard let keyID = Self.element("AccessKeyId", in: key), let secret = Self.element("SecretAccessKey", in: key) else {
            throw Failure(description: "moto CreateAccessKey answer has no key: \(key)")
        }
        return AWSCredentials(accessKeyID: keyID, secretAccessKey: secret)
    }

    private static func element(_ name: String, in document: String) -> String? {
        guard let start = document.range(of: "<\(name)>"), let end = document.range(of: "</\(name)>"),
            start.upperBound <= end.lowerBound
        else { return nil }
        return String(document[start.upperBound..<end.lowerBound])
    }

    private static func waitUntilListening(port: Int, process: ChildProcess, logFile: URL) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
                throw Failure(description: "moto_server exited at start: \(log.suffix(2000))")
            }
            if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            {
                try? await channel.close()
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "moto_server did not listen on port \(port) within 30 s")
    }
}
