import Foundation

/// The value after `name` on the command line, if both are there.
public func option(_ name: String, in arguments: [String]) -> String? {
    arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
}

public func format(_ value: Double, digits: Int = 0) -> String {
    String(format: "%.\(digits)f", value)
}

/// `value` right-aligned in `width` columns, for tables on a terminal.
public func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
    let text = value.description
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

public func milliseconds(_ duration: Duration) -> Double {
    duration / .milliseconds(1)
}

public func seconds(_ duration: Duration) -> Double {
    duration / .seconds(1)
}
