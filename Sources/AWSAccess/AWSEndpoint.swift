/// Where requests go: `http` or `https`, a host name or IP address, and a port.
public struct AWSEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var isSecure: Bool
    /// Host name or IP address, IPv6 without brackets.
    public var host: String
    public var port: Int

    public init(isSecure: Bool, host: String, port: Int? = nil) {
        self.isSecure = isSecure
        self.host = host
        self.port = port ?? (isSecure ? 443 : 80)
    }

    /// Parses `http://host[:port]` or `https://host[:port]` (a trailing `/` is allowed; IPv6 as
    /// `[::1]`).
    ///
    /// - Throws: ``AWSError`` `.invalidArgument` for another scheme, a path, a query, user
    ///   information or a bad port.
    public init(url: String) throws(AWSError) {
        let secure: Bool
        let rest: Substring
        if url.lowercased().hasPrefix("https://") {
            secure = true
            rest = url.dropFirst(8)
        } else if url.lowercased().hasPrefix("http://") {
            secure = false
            rest = url.dropFirst(7)
        } else {
            throw AWSError(.invalidArgument, "endpoint '\(url)' must start with http:// or https://")
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ ".contains($0) }) else {
            throw AWSError(.invalidArgument, "endpoint '\(url)' must be a scheme, a host and an optional port only")
        }
        var host = authority
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw AWSError(.invalidArgument, "endpoint '\(url)' has an unclosed IPv6 bracket")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else {
                    throw AWSError(.invalidArgument, "endpoint '\(url)' has an invalid port")
                }
                port = number
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let number = Int(authority[authority.index(after: colon)...]) else {
                throw AWSError(.invalidArgument, "endpoint '\(url)' has an invalid port")
            }
            port = number
        }
        guard !host.isEmpty else { throw AWSError(.invalidArgument, "endpoint '\(url)' has no host") }
        if let port, !(1...65_535).contains(port) {
            throw AWSError(.invalidArgument, "endpoint '\(url)' has port \(port) outside 1-65535")
        }
        self.init(isSecure: secure, host: String(host), port: port)
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    public var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return self.port == (self.isSecure ? 443 : 80) ? host : "\(host):\(self.port)"
    }

    public var description: String {
        "\(self.isSecure ? "https" : "http")://\(self.hostHeader)"
    }
}
