/// The RESP dialect spoken on a connection (selected by `HELLO`; RESP2 until then).
public enum RESPProtocolVersion: Int, Sendable {
    case v2 = 2
    case v3 = 3
}
