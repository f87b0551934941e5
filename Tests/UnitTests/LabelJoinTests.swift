import Testing
import Features
@testable import Worker

@Suite("Delayed labels: the join of served predictions with later labels")
struct LabelJoinTests {
    typealias Join = LabelJoin<Int>

    @Test("a label learns from the snapshot served for its id, with its delay; a second label is a duplicate")
    func joins() {
        var j = Join(settings: .init(horizon: 100, maxPending: 10))
        #expect(j.served(id: "a", time: 10, snapshot: 1).isEmpty)
        #expect(j.served(id: "b", time: 11, snapshot: 2).isEmpty)
        let l = j.label(id: "a", value: 1, time: 40)
        #expect(l.count == 1 && l[0].snapshot == 1 && l[0].label == 1 && l[0].delay == 30)
        #expect(j.label(id: "a", value: 0, time: 41).isEmpty)
        #expect(j.counters.joined == 1 && j.counters.duplicate == 1)
        #expect(j.pendingCount == 1)
    }

    @Test("a label before its event waits (bounded by the horizon) and joins when the event is served")
    func earlyLabel() {
        var j = Join(settings: .init(horizon: 50, maxPending: 10))
        #expect(j.label(id: "x", value: 1, time: 5).isEmpty)
        #expect(j.earlyCount == 1)
        let l = j.served(id: "x", time: 3, snapshot: 7)
        #expect(l.count == 1 && l[0].snapshot == 7 && l[0].delay == 2)
        // One that never gets its event: an unknown id once the horizon passed.
        _ = j.label(id: "y", value: 1, time: 6)
        // Labels running far ahead expire nothing; events passing its time plus the horizon do.
        _ = j.advance(labels: 1000)
        #expect(j.counters.unknown == 0 && j.earlyCount == 1)
        _ = j.advance(events: 57)
        #expect(j.counters.unknown == 1 && j.earlyCount == 0)
    }

    @Test("once the label stream passes a prediction's time plus the horizon it expires: dropped, or learnt as 0 with learn_negative; its label then is late")
    func expiry() {
        var drop = Join(settings: .init(horizon: 60, maxPending: 10))
        var negative = Join(settings: .init(horizon: 60, maxPending: 10, learnNegative: true))
        for j in [0, 1] {
            var join = j == 0 ? drop : negative
            _ = join.served(id: "a", time: 0, snapshot: 1)
            _ = join.served(id: "b", time: 30, snapshot: 2)
            // Event time, not wall time: nothing expires until the label stream moves; the
            // input running ahead expires nothing either.
            #expect(join.advance(events: 10_000, labels: 60).isEmpty)
            let out = join.advance(labels: 61)
            #expect(join.counters.expired == 1 && join.pendingCount == 1)
            if j == 0 { #expect(out.isEmpty) } else { #expect(out.count == 1 && out[0].snapshot == 1 && out[0].label == 0) }
            #expect(join.label(id: "a", value: 1, time: 62).isEmpty)
            #expect(join.counters.late == 1)
            if j == 0 { drop = join } else { negative = join }
        }
    }

    @Test("max_pending: the oldest predictions expire early, counted; memory stays bounded over 100,000 events")
    func bounded() {
        var j = Join(settings: .init(horizon: 1e9, maxPending: 1000))
        for i in 0..<100_000 { _ = j.served(id: "e\(i)", time: Double(i), snapshot: i) }
        #expect(j.pendingCount == 1000)
        #expect(j.counters.evicted == 99_000 && j.counters.expired == 99_000)
        // Everything it keeps is bounded by max_pending, not by the events seen.
        #expect(j.orderCount <= 1000 && j.settledCount <= 1000, "order \(j.orderCount), settled \(j.settledCount)")
        // The newest are the ones kept.
        #expect(j.label(id: "e99999", value: 1, time: 100_000).count == 1)
        #expect(j.label(id: "e98999", value: 1, time: 100_000).isEmpty)
        #expect(j.counters.late == 1, "e98999 expired early: its label is late")
        // How ids ended is remembered for max_pending ids only: one long gone is unknown, later.
        #expect(j.label(id: "e0", value: 1, time: 100_000).isEmpty && j.earlyCount == 1)
        j = Join(settings: .init(horizon: 1e9, maxPending: 10))
        _ = j.served(id: "z", time: 0, snapshot: 0)
        #expect(j.evictOldest().isEmpty && j.pendingCount == 0 && j.counters.evicted == 1)
    }

    @Test("max_pending = 1000 over 1,000,000 events with labels for some (joined, late, learnt late, early): everything kept stays bounded by max_pending, expiries counted")
    func flatOverAMillion() {
        var j = LabelJoin<LabelSnapshot>(settings: .init(horizon: 2000, maxPending: 1000, learnLate: true))
        let dense = (0..<8).map(Double.init)
        var learnt = 0, most = (pending: 0, order: 0, settled: 0, kept: 0, early: 0)
        for i in 0..<1_000_000 {
            let t = Double(i)
            learnt += j.served(id: "e\(i)", time: t, snapshot: LabelSnapshot(dense: dense, sparseIndices: [], sparseValues: [],
                                                                              outputs: [[0.5]], served: 0, modelVersion: 1)).count
            // A label for every 3rd event 100 events later; one 1,800 later for every 7th
            // (its prediction evicted by then: late); every 11th id labelled before its event;
            // every 13th label for an id never served (early, then unknown).
            if i >= 100 && (i - 100) % 3 == 0 { learnt += j.label(id: "e\(i - 100)", value: 1, time: t).count }
            if i >= 1800 && i % 7 == 0 { learnt += j.label(id: "e\(i - 1800)", value: 0, time: t).count }
            if i % 11 == 0 { learnt += j.label(id: "e\(i + 5)", value: 1, time: t).count }
            if i % 13 == 0 { learnt += j.label(id: "x\(i)", value: 1, time: t).count }
            if i % 1000 == 0 {
                most = (max(most.pending, j.pendingCount), max(most.order, j.orderCount), max(most.settled, j.settledCount),
                        max(most.kept, j.expiredKeptCount), max(most.early, j.earlyCount))
            }
        }
        let c = j.counters
        #expect(most.pending <= 1000 && most.settled <= 1000 && most.kept <= 1000, "\(most)")
        #expect(most.order <= 2 * 1000 + 1024 && most.early <= 1000, "\(most)")
        #expect(c.joined + c.expired + Int64(j.pendingCount) == 1_000_000, "\(c)")
        #expect(c.evicted > 0 && c.late > 0 && c.lateLearnt > 0 && c.lateLearnt <= c.late && c.unknown > 70_000, "\(c)")
        #expect(learnt == Int(c.joined + c.lateLearnt))
    }

    @Test("a waiting snapshot of 8 dense features and one output takes at most 150 bytes: 28 inline, one buffer of 9 values")
    func snapshotBytes() {
        var values = [Double]()
        values.reserveCapacity(9)
        values += (0..<8).map(Double.init)
        values.append(0.5)
        var s = LabelSnapshot(values: values, denseCount: 8, sparseIndices: [], sparseValues: [], served: 0, modelVersion: 1)
        s.targets = []
        // A Swift array's heap object: a 32-byte header, then its capacity.
        let bytes = MemoryLayout<LabelSnapshot>.size + 32 + 8 * s.values.capacity
        #expect(MemoryLayout<LabelSnapshot>.size <= 32 && bytes <= 150, "\(bytes) bytes")
        #expect(s.sparseIndices.isEmpty && s.targets.isEmpty && s.dense == (0..<8).map(Double.init))
        // The rarer parts still round-trip through the changelog form.
        s.targets = ["m", nil]
        var h = LabelSnapshot(dense: [1], sparseIndices: [3, 9], sparseValues: [0.5, 2], outputs: [[0.1]], served: 0, modelVersion: 2)
        h.targets = ["x"]
        for x in [s, h] { #expect(LabelSnapshot.decode(x.encoded(time: 5))?.0 == x) }
    }

    @Test("ids served again and again, with no label ever: what is kept stays bounded by the ids waiting")
    func reservedBounded() {
        var j = Join(settings: .init(horizon: 100, maxPending: 1_000_000))
        for i in 0..<200_000 { _ = j.served(id: "u\(i % 100)", time: Double(i), snapshot: i) }
        #expect(j.pendingCount == 100)
        #expect(j.orderCount <= 2 * 100 + 1024, "\(j.orderCount) order entries for 100 waiting")
    }

    @Test("an id served again waits with its newest snapshot; the older entry never expires it")
    func servedAgain() {
        var j = Join(settings: .init(horizon: 10, maxPending: 10))
        _ = j.served(id: "a", time: 0, snapshot: 1)
        _ = j.served(id: "a", time: 8, snapshot: 2)
        #expect(j.advance(labels: 12).isEmpty && j.pendingCount == 1, "the first entry's expiry is stale")
        let l = j.label(id: "a", value: 1, time: 12)
        #expect(l.count == 1 && l[0].snapshot == 2)
    }

    @Test("waiting predictions and early labels go through the changelog with the features: full and incremental captures, tombstones, the labels offset and both clocks; a torn capture is ignored")
    func changelogRoundTrip() throws {
        var spec = FeatureSpec()
        spec.numeric = []
        spec.aggregates = []
        let pipeline = FeaturePipeline(spec: spec)
        var state = pipeline.makeState()
        var j = LabelJoin<LabelSnapshot>(settings: .init(horizon: 100, maxPending: 100))
        func snap(_ i: Int) -> LabelSnapshot {
            var s = LabelSnapshot(dense: [Double(i), -0.0, .leastNonzeroMagnitude], sparseIndices: [i, 7], sparseValues: [1, 0.5],
                                  outputs: [[0.25], [0.1, 0.9]], served: 1, modelVersion: i)
            s.targets = ["merchant \(i)", nil, ""]
            return s
        }
        for i in 0..<10 { _ = j.served(id: "e\(i)", time: Double(i), snapshot: snap(i)) }
        _ = j.label(id: "early", value: 1, time: 50)
        func side(_ offset: Int64) -> SideCapture {
            SideCapture(offset: offset, eventTime: j.eventTime, sideTime: j.labelTime) { full in
                j.capture(full: full) { s, t in s.encoded(time: t) }
            }
        }
        var log = state.capture(pipeline, nextOffset: 10, side: side(3))
        #expect(!j.isDirty)
        // Incremental: two joined (tombstones), one more waiting.
        _ = j.label(id: "e2", value: 1, time: 51)
        _ = j.label(id: "e5", value: 0, time: 52)
        _ = j.served(id: "e10", time: 10, snapshot: snap(10))
        #expect(j.isDirty)
        log += state.capture(pipeline, nextOffset: 11, side: side(5))
        // A torn capture after it: ignored.
        _ = j.label(id: "e3", value: 1, time: 53)
        log += state.capture(pipeline, nextOffset: 12, side: side(6)).dropLast()

        var r = ChangelogRestore(pipeline: pipeline)
        for rec in log { try r.apply(key: rec.key, value: rec.value) }
        let restored = r.finish()
        #expect(restored.nextOffset == 11)
        #expect(restored.state.side.offset == 5 && restored.state.side.eventTime == 10 && restored.state.side.sideTime == 52)
        var back = LabelJoin<LabelSnapshot>(settings: .init(horizon: 100, maxPending: 100), restoring: restored.state.side,
                                            decode: LabelSnapshot.decode)
        #expect(back.pendingCount == 9 && back.earlyCount == 1)
        let l = back.label(id: "e3", value: 1, time: 53)
        #expect(l.count == 1 && l[0].snapshot == snap(3) && l[0].delay == 50)
        #expect(back.served(id: "early", time: 11, snapshot: snap(11)).count == 1, "the early label came back too")
        #expect(back.label(id: "e2", value: 1, time: 54).isEmpty && back.counters.unknown == 0)
        #expect(LabelSnapshot.decode([1, 2, 3]) == nil)
    }
}
