/// Starts memory nodes: locally as child processes, or through the Lambda Invoke API.
public protocol Invoker: Sendable {
    /// Runs one invocation of node `nodeID` with `event` and returns the node's answer when it
    /// returns. Throws if the node fails or disappears mid-invocation.
    func invoke(nodeID: Int, event: [UInt8]) async throws -> [UInt8]
}

/// An invocation ended with the function's error instead of a response.
public struct InvocationFailed: Error, Hashable, Sendable, CustomStringConvertible {
    public var node: Int
    public var type: String
    public var message: String
    public var description: String { "memory node \(node) failed: \(type): \(message)" }
}
