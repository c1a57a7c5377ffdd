import Synchronization

/// What every connection of one running server shares: the settings CONFIG SET changes and the
/// counters INFO reports.
final class ServerState: Sendable {
    /// The settings CONFIG SET can change while the server runs.
    struct Settings: Sendable {
        /// Redis's `requirepass`; nil when no password is needed.
        var password: String?
        /// Redis's `maxclients`.
        var maximumClients: Int
        /// Redis's `client-query-buffer-limit`: unparsed bytes a client may leave buffered.
        var queryBufferLimit: Int
    }

    struct Statistics: Sendable {
        var connectedClients = 0
        var totalConnections = 0
        var rejectedConnections = 0
        var totalCommands = 0
    }

    let configuration: ProxyServer.Configuration
    let store: ObjectStore
    let nodePool: NodePool?
    /// The port actually bound (the configured one may be 0).
    let port: Int
    let startedAt = ContinuousClock.now
    /// A random id for this run, as INFO's `run_id`.
    let runID = String((0..<40).map { _ in "0123456789abcdef".randomElement() ?? "0" })
    /// The memory large values arriving from clients share; see
    /// ``ProxyServer/Configuration/clientMemory``.
    let clientMemory: ByteBudget
    private let mutableSettings: Mutex<Settings>
    private let counters = Mutex(Statistics())

    init(configuration: ProxyServer.Configuration, store: ObjectStore, nodePool: NodePool? = nil, port: Int) {
        self.configuration = configuration
        self.store = store
        self.nodePool = nodePool
        self.port = port
        self.clientMemory = ByteBudget(capacity: configuration.clientMemory)
        self.mutableSettings = Mutex(
            Settings(
                password: configuration.password,
                maximumClients: configuration.maximumClients,
                queryBufferLimit: configuration.queryBufferLimit
            )
        )
    }

    var settings: Settings { mutableSettings.withLock { $0 } }

    var statistics: Statistics { counters.withLock { $0 } }

    func updateSettings(_ body: (inout Settings) -> Void) {
        mutableSettings.withLock { body(&$0) }
    }

    /// Counts a new connection in if there is room under `maxclients`.
    /// - Returns: Whether it may stay.
    func admitClient() -> Bool {
        let limit = settings.maximumClients
        return counters.withLock { statistics in
            guard statistics.connectedClients < limit else {
                statistics.rejectedConnections += 1
                return false
            }
            statistics.connectedClients += 1
            statistics.totalConnections += 1
            return true
        }
    }

    func clientDisconnected() {
        counters.withLock { $0.connectedClients -= 1 }
    }

    func countCommands(_ count: Int) {
        counters.withLock { $0.totalCommands += count }
    }
}
