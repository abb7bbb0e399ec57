/// Whether a file is an SQLite database of a store k8senv runs, read without changing it: the
/// check a snapshot from a bundle passes before it is published to the cache.
package enum SQLiteFileCheck {
    /// The tables (and their columns) a snapshot's database must have.
    package enum Schema: Sendable {
        /// The embedded store's (also k8senv-kine's): `kv`, `meta` and `lease` as ``StoreEngine`` makes them.
        case store
        /// kine's own: its `kine` table.
        case kine

        var tables: [String: [String]] {
            switch self {
            case .store:
                [
                    "kv": [
                        "revision", "key", "deleted", "create_revision", "prev_revision", "version", "lease", "value",
                    ],
                    "meta": ["name", "value"], "lease": ["id", "ttl"],
                ]
            case .kine:
                [
                    "kine": [
                        "id", "name", "created", "deleted", "create_revision", "prev_revision", "lease", "value",
                        "old_value",
                    ]
                ]
            }
        }
    }

    /// Checks that `path` is an SQLite database whose `PRAGMA integrity_check` is ok and that has
    /// the tables of one of `schemas`. The file is opened immutable (no lock, no journal, nothing
    /// written beside it).
    /// - Returns: nil when it is; else what the file is instead (a phrase: "not an SQLite database (…)").
    package static func problem(_ path: String, schemas: [Schema]) -> String? {
        let database: SQLiteDatabase
        do { database = try SQLiteDatabase(immutable: path) } catch {
            return "not an SQLite database (\(error.message))"
        }
        var problems: [String] = []
        do {
            let s = try database.statement("PRAGMA integrity_check")
            while try s.step() {
                let line = s.text(0)
                if line != "ok" { problems.append(line) }
                if problems.count >= 3 { break }
            }
            s.reset()
        } catch {
            return "not an SQLite database (\(error.message))"
        }
        guard problems.isEmpty else {
            return "a damaged SQLite database (integrity_check: \(problems.joined(separator: "; ")))"
        }
        var found: [String: Set<String>] = [:]
        do {
            let tables = try database.statement("SELECT name FROM sqlite_master WHERE type = 'table'")
            var names: [String] = []
            while try tables.step() { names.append(tables.text(0)) }
            tables.reset()
            for name in names {
                let columns = try database.statement("SELECT name FROM pragma_table_info(?1)")
                columns.bind(1, name)
                var set = Set<String>()
                while try columns.step() { set.insert(columns.text(0)) }
                columns.reset()
                found[name] = set
            }
        } catch {
            return "an SQLite database whose tables cannot be read (\(error.message))"
        }
        for schema in schemas
        where schema.tables.allSatisfy({ table, columns in
            found[table].map { Set(columns).isSubset(of: $0) } ?? false
        }) { return nil }
        let expected = schemas.map { $0.tables.keys.sorted().joined(separator: ", ") }.joined(separator: " or ")
        let has = found.keys.sorted()
        return
            "an SQLite database without k8senv's store tables (it needs \(expected); it has \(has.isEmpty ? "no tables" : has.joined(separator: ", ")))"
    }
}
