import Testing

@testable import InfiniProxy

/// Redis's glob rules, case by case, against what `stringmatchlen` answers.
struct GlobPatternTests {
    @Test(arguments: [
        ("*", "", true), ("*", "anything", true), ("", "", true), ("", "a", false),
        ("a*", "a", true), ("a*", "abc", true), ("a*", "ba", false), ("*c", "abc", true), ("*c", "abd", false),
        ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false), ("a**c", "ac", true),
        ("h?llo", "hello", true), ("h?llo", "hllo", false), ("?", "", false),
        ("h[ae]llo", "hallo", true), ("h[ae]llo", "hillo", false),
        ("h[^e]llo", "hallo", true), ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true), ("h[a-b]llo", "hcllo", false), ("h[b-a]llo", "hallo", true),
        ("\\*", "*", true), ("\\*", "a", false), ("a\\", "a\\", true),
        ("[\\]]", "]", true), ("[a\\-z]", "-", true), ("[a\\-z]", "b", false),
        ("[abc", "b", true), ("[abc", "d", false), ("[", "a", false), ("[^", "x", true),
        ("user:*", "user:1", true), ("user:*", "order:1", false),
    ])
    func matchesLikeRedis(pattern: String, subject: String, expected: Bool) {
        #expect(GlobPattern(pattern.utf8).matches(subject.utf8) == expected)
    }

    @Test func manyStarsStayFast() {
        let pattern = GlobPattern((String(repeating: "*a", count: 200) + "b").utf8)
        let subject = String(repeating: "a", count: 10_000)
        #expect(!pattern.matches(subject.utf8))
    }

    @Test func onlyALoneStarMatchesEverythingWithoutLooking() {
        #expect(GlobPattern("*".utf8).matchesEverything)
        #expect(!GlobPattern("**x".utf8).matchesEverything)
    }
}
