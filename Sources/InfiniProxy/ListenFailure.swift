#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// A server could not listen on its address, said in one line a user can act on.
public struct ListenFailure: Error, CustomStringConvertible {
    /// What the address was for, such as "the client port".
    public let purpose: String
    public let host: String
    public let port: Int
    public let reason: String

    init(purpose: String, host: String, port: Int, underlying: any Error) {
        self.purpose = purpose
        self.host = host
        self.port = port
        if let error = underlying as? IOError {
            reason = String(cString: strerror(error.errnoCode)).lowercased()
        } else {
            reason = "\(underlying)"
        }
    }

    public var description: String { "cannot listen on \(host):\(port) for \(purpose): \(reason)" }
}
