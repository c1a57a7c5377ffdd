extension Collection {
    /// The elements in consecutive pieces of at most `size`, for requests with a limit on the
    /// names each may carry.
    func batches(of size: Int) -> [SubSequence] {
        precondition(size > 0, "a batch holds at least one element")
        var batches: [SubSequence] = []
        var start = startIndex
        while start != endIndex {
            let end = index(start, offsetBy: size, limitedBy: endIndex) ?? endIndex
            batches.append(self[start..<end])
            start = end
        }
        return batches
    }
}
