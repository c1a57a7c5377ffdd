import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// No loopback port could be bound.
public struct BindFailure: Error, CustomStringConvertible {
    public let description: String
}

/// A loopback port with a socket bound to it that never listens: connecting is refused for as
/// long as this is open. A port that was merely free a moment ago may be taken by another test's
/// server meanwhile.
public final class RefusingPort {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        (descriptor, port) = try bindLoopbackSocket()
    }

    public func close() {
        Glibc.close(descriptor)
    }
}

/// A loopback port that was free a moment ago, for a server that must come back on the same
/// port after a restart, or that cannot bind port 0 and say which it got; another process may
/// take it meanwhile. The kernel can give a closed port out again at once, so no port is handed
/// out twice in one test process: two servers started side by side would otherwise share one.
public func freeLoopbackPort() throws -> Int {
    for _ in 0..<100 {
        let (descriptor, port) = try bindLoopbackSocket()
        Glibc.close(descriptor)
        if portsHandedOut.withLock({ $0.insert(port).inserted }) { return port }
    }
    throw BindFailure(description: "no loopback port that was not handed out before")
}

private let portsHandedOut = Mutex<Set<Int>>([])

/// A TCP socket bound to a free loopback port, and the port.
private func bindLoopbackSocket() throws -> (descriptor: Int32, port: Int) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
        }
    }
    guard bound else {
        Glibc.close(descriptor)
        throw BindFailure(description: "no loopback port to bind: \(String(cString: strerror(errno)))")
    }
    return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
}
