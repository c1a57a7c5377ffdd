/// The parameters CONFIG GET reports and CONFIG SET may change, with Redis's names and
/// Redis's texts for values it refuses.
struct ConfigParameters {
    /// One parameter: how to read it, and how to change it (nil if it cannot be changed).
    struct Parameter: Sendable {
        let name: String
        let value: @Sendable (ServerState) -> String
        let apply: (@Sendable (String, inout ServerState.Settings, ServerState) throws(CommandError) -> Void)?
    }

    static let all: [Parameter] = [
        fixed("save", ""),
        fixed("appendonly", "no"),
        fixed("maxmemory", "0"),
        fixed("maxmemory-policy", "noeviction"),
        fixed("databases", "1"),
        fixed("timeout", "0"),
        Parameter(name: "bind", value: { $0.configuration.host }, apply: nil),
        Parameter(name: "port", value: { String($0.port) }, apply: nil),
        Parameter(name: "proto-max-bulk-len", value: { String($0.configuration.maximumBulkLength) }, apply: nil),
        Parameter(name: "requirepass", value: { $0.settings.password ?? "" }) { value, settings, _ in
            settings.password = value.isEmpty ? nil : value
        },
        Parameter(name: "maxclients", value: { String($0.settings.maximumClients) }) { value, settings, _ throws(CommandError) in
            settings.maximumClients = try integer(value, in: 1...4_294_967_295, parameter: "maxclients", memory: false)
        },
        Parameter(name: "client-query-buffer-limit", value: { String($0.settings.queryBufferLimit) }) {
            value, settings, server throws(CommandError) in
            // Below the bulk limit, a value the parser accepts could never fit the buffer.
            let minimum = max(1 << 20, server.configuration.maximumBulkLength)
            settings.queryBufferLimit = try integer(
                value, in: minimum...Int.max, parameter: "client-query-buffer-limit", memory: true)
        },
    ]

    /// Name and value of every parameter matching any of `patterns` (case-insensitive globs),
    /// each once, in table order.
    static func matching(_ patterns: [String], server: ServerState) -> [(name: String, value: String)] {
        let globs = patterns.map { GlobPattern($0.lowercased().utf8) }
        return all.filter { parameter in globs.contains { $0.matches(parameter.name.utf8) } }
            .map { ($0.name, $0.value(server)) }
    }

    /// Applies CONFIG SET's name/value pairs all or nothing, checking each as Redis does.
    static func set(_ pairs: [(name: String, value: String)], server: ServerState) throws(CommandError) {
        var settings = server.settings
        var seen = Set<String>()
        for (name, value) in pairs {
            let lowercased = name.lowercased()
            guard let parameter = all.first(where: { $0.name == lowercased }) else {
                throw CommandError("ERR Unknown option or number of arguments for CONFIG SET - '\(name)'")
            }
            guard seen.insert(lowercased).inserted else { throw failure(lowercased, "duplicate parameter") }
            guard let apply = parameter.apply else {
                // Setting a fixed parameter to the value it has is harmless, and scripts do it.
                guard value == parameter.value(server) else { throw failure(lowercased, "can't set immutable config") }
                continue
            }
            try apply(value, &settings, server)
        }
        server.updateSettings { $0 = settings }
    }

    private static func fixed(_ name: String, _ value: String) -> Parameter {
        Parameter(name: name, value: { _ in value }, apply: nil)
    }

    private static func failure(_ parameter: String, _ reason: String) -> CommandError {
        CommandError("ERR CONFIG SET failed (possibly related to argument '\(parameter)') - \(reason)")
    }

    /// An integer setting; a `memory` one may carry a unit (`k kb m mb g gb`) as Redis's `memtoll`.
    private static func integer(
        _ text: String,
        in bounds: ClosedRange<Int>,
        parameter: String,
        memory: Bool
    ) throws(CommandError) -> Int {
        let units: [(suffix: String, scale: Int)] = [
            ("kb", 1024), ("mb", 1 << 20), ("gb", 1 << 30), ("k", 1000), ("m", 1_000_000), ("g", 1_000_000_000), ("b", 1),
        ]
        let lowercased = text.lowercased()
        let unit = memory ? units.first { lowercased.hasSuffix($0.suffix) } : nil
        let digits = unit.map { String(lowercased.dropLast($0.suffix.count)) } ?? lowercased
        guard let number = Int(digits) else { throw failure(parameter, "argument couldn't be parsed into an integer") }
        let (value, overflow) = number.multipliedReportingOverflow(by: unit?.scale ?? 1)
        guard !overflow, bounds.contains(value) else {
            throw failure(parameter, "argument must be between \(bounds.lowerBound) and \(bounds.upperBound) inclusive")
        }
        return value
    }
}
