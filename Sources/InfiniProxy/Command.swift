import NIOCore
import RESP

/// One entry of the command table: arity (Redis's convention: positive means exact, negative
/// means at least, the name included), what COMMAND INFO and COMMAND DOCS say about it, and
/// what it does.
struct Command: Sendable {
    typealias Handler = @Sendable (inout ClientSession, [ByteBuffer], inout ReplyBuffer) async throws -> ClientSession.Outcome

    /// Where a command's keys are among its arguments, for COMMAND INFO.
    enum Keys: Sendable {
        case none
        /// The first argument.
        case first
        /// Every argument.
        case all
        /// Every other argument, from the first (MSET).
        case pairs

        /// Redis's first key, last key and step (argument positions, the name being 0).
        var positions: (first: Int, last: Int, step: Int) {
            switch self {
            case .none: (0, 0, 0)
            case .first: (1, 1, 1)
            case .all: (1, -1, 1)
            case .pairs: (1, -1, 2)
            }
        }
    }

    let arity: Int
    /// Redis's command group (`string`, `generic`, `connection`, `server`).
    let group: String
    let summary: String
    /// Redis's command flags, as COMMAND INFO lists them.
    let flags: [String]
    let keys: Keys
    let run: Handler

    init(
        arity: Int,
        group: String,
        summary: String,
        flags: [String] = [],
        keys: Keys = .none,
        run: @escaping Handler
    ) {
        self.arity = arity
        self.group = group
        self.summary = summary
        self.flags = flags
        self.keys = keys
        self.run = run
    }

    /// AUTH, HELLO and QUIT run before authentication, as their `no-auth` flag says in Redis.
    var isAllowedBeforeAuthentication: Bool { flags.contains("no-auth") }

    func accepts(argumentCount: Int) -> Bool {
        arity >= 0 ? argumentCount == arity : argumentCount >= -arity
    }

    static let table: [String: Command] = connectionCommands
        .merging(stringCommands) { first, _ in first }
        .merging(keyCommands) { first, _ in first }
        .merging(serverCommands) { first, _ in first }
}
