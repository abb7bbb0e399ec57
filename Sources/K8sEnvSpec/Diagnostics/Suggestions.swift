/// "Did you mean" suggestions: the closest candidate by edit distance, if it is close enough.
package enum Suggestions {
    /// The candidate closest to `word`, when it is within a third of the word's length
    /// (at least one edit) or differs only in case.
    package static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let candidates = Array(candidates)
        // The distance is at least the difference in length, and what is allowed is a third of
        // the shorter: a word over twice as long as every candidate is none of them misspelled
        // (and is not compared, which would cost its whole length: a 50 MB value).
        guard let longest = candidates.map(\.unicodeScalars.count).max(),
            word.unicodeScalars.prefix(2 * longest + 2).count <= 2 * longest + 1
        else { return nil }
        let length = word.unicodeScalars.count
        let lowered = word.lowercased()
        var best: (String, Int)?
        for candidate in candidates where candidate != word {
            if candidate.lowercased() == lowered { return candidate }
            let distance = editDistance(lowered, candidate.lowercased())
            if best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        guard let (candidate, distance) = best else { return nil }
        let allowed = max(1, min(length, candidate.unicodeScalars.count) / 3)
        return distance <= allowed ? candidate : nil
    }

    /// `; did you mean "x"?` or the empty string.
    package static func didYouMean(_ word: String, in candidates: some Sequence<String>) -> String {
        guard let match = closest(to: word, in: candidates) else { return "" }
        return "; did you mean \"\(match)\"?"
    }

    /// Optimal string alignment distance (Levenshtein plus transpositions).
    package static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
