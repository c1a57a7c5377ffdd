/// Runs `body` on every element, at most `limit` at a time: on S3 each request costs a round
/// trip, so a recovery or a cleanup should cost a few, not one per object.
public func forEachConcurrently<Element: Sendable>(
    _ elements: [Element],
    limit: Int,
    _ body: @escaping @Sendable (Element) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (offset, element) in elements.enumerated() {
            if offset >= limit { try await group.next() }
            group.addTask { try await body(element) }
        }
        try await group.waitForAll()
    }
}

/// `transform` applied to every element, at most `limit` at a time, in the elements' order.
public func mapConcurrently<Element: Sendable, Result: Sendable>(
    _ elements: [Element],
    limit: Int,
    _ transform: @escaping @Sendable (Element) async throws -> Result
) async throws -> [Result] {
    try await withThrowingTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: elements.count)
        for (offset, element) in elements.enumerated() {
            if offset >= limit, let (index, result) = try await group.next() { results[index] = result }
            group.addTask { (offset, try await transform(element)) }
        }
        for try await (index, result) in group { results[index] = result }
        return results.map { $0! }
    }
}
