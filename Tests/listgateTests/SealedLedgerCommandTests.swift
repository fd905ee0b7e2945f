// The sealed ledger through the built binary (README, "The ledger: durable now, sealed
// soon"): commands leave the chain sealed, `serve` seals under load within a second or
// two, a killed server's lease is taken over once it expires, `events verify` reports the
// unsealed tail and checks a checkpoint, and a database written by the previous version
// keeps verifying after `migrate`.
import Foundation
import GRDB
import ListgateTestSupport
import Testing

private enum Ledger {
    static func workspace() throws -> Workspace {
        let workspace = try Workspace().migrated()
        try workspace.createNews()
        return workspace
    }

    static func verify(_ workspace: Workspace, _ extra: String...) throws -> (result: CommandResult, document: [String: Any]) {
        let result = try Binary.run(["events", "verify", "--json", "--db", workspace.db] + extra)
        return (result, try jsonObject(result.stdout))
    }

    /// Events appended and not sealed yet, read by the test.
    static func unsealed(_ workspace: Workspace) throws -> Int {
        try DatabaseQueue(path: workspace.db).read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM events WHERE id > coalesce((SELECT max(event_id) FROM event_chain), 0)
                """) ?? -1
        }
    }

    /// An event appended behind listgate's back: nothing seals it until a sealer runs.
    static func appendRaw(_ workspace: Workspace) throws {
        try DatabaseQueue(path: workspace.db).write { db in
            try db.execute(sql: """
                INSERT INTO events (occurred_at, type, source, detail) VALUES ('2026-12-01T00:00:00.000Z', 'outbox_paused', 'test', '{}')
                """)
        }
    }

    static func sqlite(_ workspace: Workspace, _ sql: String) throws {
        let result = try Binary.runTool("/usr/bin/sqlite3", [workspace.db, sql])
        #expect(result.status == 0, "\(result.stderr)")
    }

    static let dropTriggers = """
        DROP TRIGGER events_are_append_only_update; DROP TRIGGER events_are_append_only_delete;
        DROP TRIGGER event_chain_is_append_only_update; DROP TRIGGER event_chain_is_append_only_delete;
        DROP TRIGGER event_chain_extends_its_head;
        """
}

@Suite("The sealed ledger through the binary", .serialized)
struct SealedLedgerCommandTests {
    @Test("a command that records events leaves them sealed as it exits")
    func commandsSealOnExit() throws {
        let workspace = try Ledger.workspace()
        try workspace.listgate("subscribers", "add", "taro@example.jp", "--list", "news", "--name", "山田 太郎", "--confirmed")
        #expect(try Ledger.unsealed(workspace) == 0)
        let (result, document) = try Ledger.verify(workspace)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(document["ok"] as? Bool == true)
        #expect(document["sealed"] as? Int == 2)
        #expect(document["unsealed"] as? Int == 0)
        let head = try #require(document["head"] as? [String: Any])
        #expect(head["count"] as? Int == 2)
        #expect((head["hash"] as? String)?.count == 64)
        #expect(document["problem"] == nil)
        #expect(try workspace.rows("SELECT * FROM leases").isEmpty, "the lease is given back")
    }

    @Test("verify reports the unsealed tail without failing, and events seal seals it")
    func unsealedTail() throws {
        let workspace = try Ledger.workspace()
        try Ledger.appendRaw(workspace)
        try Ledger.appendRaw(workspace)
        let text = try workspace.listgate("events", "verify")
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("ledger intact: 1 events sealed, head hash "))
        #expect(text.stdout.hasSuffix("; 2 newer not sealed yet\n"))
        let (json, document) = try Ledger.verify(workspace)
        #expect(json.status == 0)
        #expect(document["ok"] as? Bool == true && document["sealed"] as? Int == 1 && document["unsealed"] as? Int == 2)
        #expect(try Ledger.unsealed(workspace) == 2, "verify only looks")

        let sealed = try workspace.listgate("events", "seal")
        #expect(sealed.status == 0, "\(sealed.stderr)")
        #expect(sealed.stdout == "sealed 2 events\n")
        #expect(try workspace.listgate("events", "seal").stdout == "nothing to seal: every event is in the chain\n")
        let after = try Ledger.verify(workspace).document
        #expect(after["sealed"] as? Int == 3 && after["unsealed"] as? Int == 0)
    }

    @Test("checkpoint prints the sealed head; verify --checkpoint passes while the chain extends it")
    func checkpointExtended() throws {
        let workspace = try Ledger.workspace()
        let printed = try workspace.listgate("events", "checkpoint", "--json")
        #expect(printed.status == 0, "\(printed.stderr)")
        let checkpoint = try jsonObject(printed.stdout)
        #expect(Set(checkpoint.keys) == ["count", "hash"])
        #expect(checkpoint["count"] as? Int == 1)
        let file = workspace.url.appendingPathComponent("checkpoint.json").path
        try printed.stdout.write(toFile: file, atomically: true, encoding: .utf8)

        try workspace.listgate("subscribers", "add", "hanako@example.jp", "--list", "news", "--name", "佐藤 花子")
        let verified = try workspace.listgate("events", "verify", "--checkpoint", file)
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("the chain passes through the checkpoint (1 events, hash \(checkpoint["hash"] as? String ?? "?"))"))
        let text = try workspace.listgate("events", "checkpoint")
        #expect(text.stdout.hasPrefix("sealed head: 2 events, hash "))
    }

    @Test("a chain truncated below a checkpoint, or rewritten and re-hashed, is caught against it")
    func checkpointCatchesRewrites() throws {
        let workspace = try Ledger.workspace()
        for name in ["a", "b", "c", "d"] {
            try workspace.listgate("subscribers", "add", "\(name)@example.org", "--list", "news", "--confirmed")
        }
        let file = workspace.url.appendingPathComponent("checkpoint.json").path
        try workspace.listgate("events", "checkpoint", "--json").stdout.write(toFile: file, atomically: true, encoding: .utf8)

        // Someone with the file drops the triggers and cuts the chain short: on its own,
        // the shorter chain still holds together.
        try Ledger.sqlite(workspace, Ledger.dropTriggers + "DELETE FROM event_chain WHERE position > 3;")
        #expect(try workspace.listgate("events", "verify").status == 0)
        let truncated = try workspace.listgate("events", "verify", "--checkpoint", file)
        #expect(truncated.status != 0)
        #expect(truncated.lastErrorLine
            == "error: ledger does not extend the checkpoint: the chain holds 3 sealed events, fewer than the checkpoint's 5: it was truncated")
        let json = try Ledger.verify(workspace, "--checkpoint", file)
        #expect(json.result.status != 0)
        #expect(json.document["ok"] as? Bool == false)
        #expect((json.document["problem"] as? String)?.hasSuffix("it was truncated") == true)
    }

    @Test("a chain rewritten from an edited event and re-hashed whole verifies alone but not against the checkpoint")
    func checkpointCatchesRehash() throws {
        let workspace = try Ledger.workspace()
        for name in ["a", "b"] {
            try workspace.listgate("subscribers", "add", "\(name)@example.org", "--list", "news", "--confirmed")
        }
        let file = workspace.url.appendingPathComponent("checkpoint.json").path
        try workspace.listgate("events", "checkpoint", "--json").stdout.write(toFile: file, atomically: true, encoding: .utf8)

        // The forger edits event 2 and re-seals everything from there, as the sealer would.
        try Ledger.sqlite(workspace, Ledger.dropTriggers + """
            UPDATE events SET detail = '{"status":"pending"}' WHERE id = 2;
            DELETE FROM event_chain WHERE position >= 2;
            """)
        let resealed = try workspace.listgate("events", "seal")
        #expect(resealed.stdout == "sealed 2 events\n", "\(resealed.stderr)")
        #expect(try workspace.listgate("events", "verify").status == 0, "re-hashed whole, the chain holds together")
        let caught = try workspace.listgate("events", "verify", "--checkpoint", file)
        #expect(caught.status != 0)
        let line = try #require(caught.lastErrorLine)
        #expect(line.hasPrefix("error: ledger does not extend the checkpoint: the event at chain position 3 has hash "))
        #expect(line.hasSuffix(": the chain was rewritten"))
    }

    @Test("verify names a removed sealed event and a reordered chain")
    func removedAndReordered() throws {
        let workspace = try Ledger.workspace()
        for name in ["a", "b", "c"] {
            try workspace.listgate("subscribers", "add", "\(name)@example.org", "--list", "news", "--confirmed")
        }
        try Ledger.sqlite(workspace, Ledger.dropTriggers + """
            UPDATE event_chain SET position = 100 WHERE position = 2;
            UPDATE event_chain SET position = 2 WHERE position = 3;
            UPDATE event_chain SET position = 3 WHERE position = 100;
            """)
        let reordered = try workspace.listgate("events", "verify")
        #expect(reordered.status != 0)
        #expect(reordered.lastErrorLine == "error: ledger broken: event 3 (chain position 2) does not follow event 1 (its prev_hash differs): events were removed, inserted or reordered (the 1 events before it are intact)")

        try Ledger.sqlite(workspace, """
            UPDATE event_chain SET position = 100 WHERE position = 2;
            UPDATE event_chain SET position = 2 WHERE position = 3;
            UPDATE event_chain SET position = 3 WHERE position = 100;
            DELETE FROM events WHERE id = 4;
            """)
        let removed = try workspace.listgate("events", "verify")
        #expect(removed.status != 0)
        #expect(removed.lastErrorLine == "error: ledger broken: event 4 (chain position 4) is sealed but no longer in the ledger: it was removed (the 3 events before it are intact)")
        #expect(try workspace.listgate("events", "checkpoint").lastErrorLine?.hasSuffix("no checkpoint of a broken chain") == true)
    }

    @Test("a checkpoint file that is missing, not JSON or without a whole count and a hash is an error", arguments: [
        (nil, "error: cannot read checkpoint missing.json: No such file or directory"),
        ("not json", "error: checkpoint missing.json is not a JSON object: "),
        (#"{"count": 1.5, "hash": "0000000000000000000000000000000000000000000000000000000000000000"}"#, "error: checkpoint missing.json has no whole count and hash: "),
        (#"{"count": 1}"#, "error: checkpoint missing.json has no whole count and hash: "),
        (#"{"count": 1, "hash": "xyz"}"#, "error: checkpoint missing.json is not valid: "),
        (#"{"count": -1, "hash": "0000000000000000000000000000000000000000000000000000000000000000"}"#, "error: checkpoint missing.json is not valid: "),
    ] as [(String?, String)])
    func badCheckpointFile(content: String?, error: String) throws {
        let workspace = try Ledger.workspace()
        if let content {
            try content.write(to: workspace.url.appendingPathComponent("missing.json"), atomically: true, encoding: .utf8)
        }
        let result = try Binary.run(["events", "verify", "--checkpoint", "missing.json", "--db", workspace.db], in: workspace.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix(error) == true, "\(result.stderr)")
    }

    @Test("serve seals the tail within two seconds under subscribe load, and gives its lease back when it stops")
    func serveSealsUnderLoad() async throws {
        let workspace = try Ledger.workspace()
        var server: ServeProcess? = try await ServeProcess(
            workspace, arguments: ["--smtp-url", "file://\(workspace.url.path)/mail"], environment: ["LISTGATE_RATE_LIMITS": "off"])
        let base = try #require(server?.base)
        let poster = FormPoster(connections: 8)
        let load = Task {
            await withTaskGroup(of: Int.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var accepted = 0
                        for n in 0..<60 {
                            let status = await poster.post("\(base)/lists/news/subscribe", ["email": "load\(worker)-\(n)@example.net"])
                            if let status, (200..<400).contains(status) { accepted += 1 }
                        }
                        return accepted
                    }
                }
                return await group.reduce(0, +)
            }
        }
        // The sealer's lag: from the moment an event is seen committed to the moment it is
        // seen sealed, sampled every 50 ms while the load runs and until the tail is sealed
        // (the intake decides posts after answering them, so events keep coming a moment
        // after the last answer). Each event's own time would count that wait too.
        let loading = Shared(true)
        let sampler = Task { () async throws -> (Duration, Bool) in
            let watcher = try DatabaseQueue(path: workspace.db)
            var seen: [(at: ContinuousClock.Instant, newest: Int64)] = []
            var worst: Duration = .zero
            var quiet = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let ids: [Int64] = try await watcher.read { db in
                    try Int64.fetchAll(db, sql: """
                        SELECT coalesce((SELECT max(id) FROM events), 0)
                        UNION ALL SELECT coalesce((SELECT max(event_id) FROM event_chain), 0)
                        """)
                }
                let (newest, sealed) = (ids[0], ids[1])
                let now = ContinuousClock.now
                if seen.last?.newest != newest { seen.append((now, newest)) }
                while let first = seen.first, first.newest <= sealed {
                    worst = max(worst, now - first.at)
                    seen.removeFirst()
                }
                // Done once the load is over and nothing new came, all of it sealed, for a second.
                quiet = !loading.current && seen.isEmpty && newest == sealed ? quiet + 1 : 0
                if quiet >= 20 { return (worst, true) }
                try await Task.sleep(for: .milliseconds(50))
            }
            return (worst, false)
        }
        let accepted = await load.value
        loading.withLock { $0 = false }
        let (worstLag, drained) = try await sampler.value
        #expect(accepted == 480)
        #expect(drained, "the tail was never sealed:\n\(server?.log ?? "")")
        #expect(worstLag < .seconds(2), "an event waited \(worstLag) to be sealed under load")
        print("sealer under load (\(accepted) subscribe posts from 8 clients): worst lag \(worstLag)")
        #expect(try workspace.rows("SELECT holder FROM leases").map { $0["holder"] as String }.first?.hasPrefix("serve pid ") == true)

        server = nil  // SIGTERM: a graceful stop
        #expect(try workspace.rows("SELECT * FROM leases").isEmpty, "the lease is given back at a graceful stop")
        let (verified, document) = try Ledger.verify(workspace)
        #expect(verified.status == 0)
        let events: Int? = try workspace.rows("SELECT count(*) AS n FROM events").first?["n"]
        #expect(document["sealed"] as? Int == events && document["unsealed"] as? Int == 0)
    }

    @Test("a killed server's lease keeps others from sealing until it expires; then another server takes over and seals the tail")
    func leaseHandoverAfterKill() async throws {
        let workspace = try Ledger.workspace()
        // Renewed when half gone, the lease outlives the kill by 3 to 6 s: time enough for
        // the commands below to find it live.
        let environment = ["LISTGATE_SEALER_LEASE_SECONDS": "6", "LISTGATE_RATE_LIMITS": "off"]
        let arguments = ["--smtp-url", "file://\(workspace.url.path)/mail"]
        let first = try await ServeProcess(workspace, arguments: arguments, environment: environment)
        #expect(await FormPoster().post("\(first.base)/lists/news/subscribe", ["email": "before@example.net"]) == 200)
        let holding = try await eventually(within: .seconds(5)) {
            try Ledger.unsealed(workspace) == 0
                && workspace.rows("SELECT holder FROM leases").first.map { ($0["holder"] as String).hasPrefix("serve") } == true
        }
        try #require(holding, "the server never sealed:\n\(first.log)")
        let firstHolder: String = try #require(try workspace.rows("SELECT holder FROM leases").first?["holder"])
        first.kill()  // SIGKILL: the lease stays behind, unexpired

        let added = try workspace.listgate("subscribers", "add", "after@example.net", "--list", "news", environment: environment)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try Ledger.unsealed(workspace) == 1, "the command's seal on exit waits for the lease")
        let refused = try workspace.listgate("events", "seal", environment: environment)
        #expect(refused.status == 0)
        #expect(refused.stdout.hasPrefix("nothing sealed: the sealer's lease is held by \(firstHolder) until "), "\(refused.stdout)")
        let (tail, document) = try Ledger.verify(workspace)
        #expect(tail.status == 0 && document["unsealed"] as? Int == 1)

        let second = try await ServeProcess(workspace, arguments: arguments, environment: environment)
        let tookOver = try await eventually(within: .seconds(12)) { try Ledger.unsealed(workspace) == 0 }
        #expect(tookOver, "the second server did not seal the tail:\n\(second.log)")
        let holder: String? = try workspace.rows("SELECT holder FROM leases").first?["holder"]
        #expect(holder?.hasPrefix("serve pid ") == true && holder != firstHolder)
        #expect(try Ledger.verify(workspace).result.status == 0)
    }

    @Test("a database written by the previous version keeps verifying after migrate, with the same head, and new events seal onto it")
    func previousVersionUpgrade() throws {
        // Tests/listgateTests/Fixtures/README.md says how this file was made. Its head, as
        // that version's `events verify --json` printed it (events_checked, last_hash):
        let previousHead = (count: 23, hash: "d5b6662e3f373ba042f0ab4d5bff88339050f870e9b1351a9aa62e19003724f7")
        let fixture = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("previous-version.sqlite3")
        let workspace = try Workspace()
        try FileManager.default.copyItem(atPath: fixture.path, toPath: workspace.db)

        let refused = try workspace.listgate("events", "verify")
        #expect(refused.lastErrorLine == "error: database needs migration: run listgate migrate")
        let migrated = try workspace.listgate("migrate")
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("applied 0010_sealed_ledger.sql"))

        let (verified, document) = try Ledger.verify(workspace)
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(document["ok"] as? Bool == true)
        #expect(document["sealed"] as? Int == previousHead.count && document["unsealed"] as? Int == 0)
        let head = try #require(document["head"] as? [String: Any])
        #expect(head["count"] as? Int == previousHead.count)
        #expect(head["hash"] as? String == previousHead.hash)
        #expect(document["last_hash"] as? String == previousHead.hash)

        // What it holds still reads: lists, a person's history, the Japanese names.
        let lists = try workspace.listgate("lists", "list")
        #expect(lists.stdout.contains("お知らせ（週刊）"))
        let history = try workspace.listgate("subscribers", "history", "ichiro@example.jp", "--json")
        #expect(history.status == 0 && history.stdout.contains("店頭の申込書 (2025年)"), "\(history.stdout)")
        let export = try workspace.listgate("export", "subscribers", "--list", "news", "--status", "all")
        #expect(export.stdout.contains("鈴木 一郎") && export.stdout.contains("髙橋 三郎"))

        try workspace.listgate("subscribers", "add", "shiro@example.jp", "--list", "news", "--name", "伊藤 四郎", "--confirmed")
        let checkpoint = workspace.url.appendingPathComponent("previous.json").path
        try #"{"count": \#(previousHead.count), "hash": "\#(previousHead.hash)"}"#.write(toFile: checkpoint, atomically: true, encoding: .utf8)
        let (grown, after) = try Ledger.verify(workspace, "--checkpoint", checkpoint)
        #expect(grown.status == 0, "\(grown.stderr)")
        #expect(after["sealed"] as? Int == previousHead.count + 1 && after["unsealed"] as? Int == 0)
        let newest = try workspace.rows("SELECT prev_hash FROM event_chain ORDER BY position DESC LIMIT 1")
        #expect(newest.first?["prev_hash"] == previousHead.hash)
    }
}
