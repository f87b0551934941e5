import Foundation
import Testing

/// Issue 27's service files, checked with the validators this machine has: `systemd-analyze
/// verify` for deploy/systemd, `kubectl kustomize` (rendering; kubectl's schema validation
/// needs an API server) plus tools/check_kubernetes.py for deploy/kubernetes, and the
/// `cluster.conf` they ship through `tributary config check`.
@Suite("Deployment files", .serialized)
struct DeployTests {
    /// Runs a shell command; its exit status and its stderr.
    func run(_ command: String) -> (Int32, String) {
        let err = NSTemporaryDirectory() + "deploy-\(UUID().uuidString.prefix(8)).err"
        defer { try? FileManager.default.removeItem(atPath: err) }
        let status = sh("\(command) 2> '\(err)'")
        return (status, (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    @Test("deploy/systemd: the broker, coordinator and worker@ units pass systemd-analyze verify with no warning, and start what exists",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "needs systemd-analyze (Debian package systemd)"))
    func systemdUnits() throws {
        let dir = NSTemporaryDirectory() + "units-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let user = String(cString: getpwuid(getuid())!.pointee.pw_name)
        let src = repoRoot + "/deploy/systemd"
        let units = try FileManager.default.contentsOfDirectory(atPath: src).filter { $0.hasSuffix(".service") }.sorted()
        #expect(units == ["tributary-broker.service", "tributary-coordinator.service", "tributary-worker@.service"])
        for u in units {
            // The built binary and this user stand in for /usr/local/bin/tributary and the
            // tributary account (verify checks that both exist).
            let text = try String(contentsOfFile: "\(src)/\(u)", encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/tributary", with: tributaryBinary())
                .replacingOccurrences(of: "User=tributary", with: "User=\(user)")
            try text.write(toFile: "\(dir)/\(u)", atomically: true, encoding: .utf8)
        }
        try FileManager.default.copyItem(atPath: "\(dir)/tributary-worker@.service", toPath: "\(dir)/tributary-worker@1.service")
        let (status, err) = run("cd '\(dir)' && systemd-analyze verify --man=no tributary-broker.service tributary-coordinator.service tributary-worker@1.service")
        #expect(status == 0 && err.isEmpty, "systemd-analyze verify: \(err)")
        // The commands the units run are real: their options parse.
        for args in [["broker", "--help"], ["coordinator", "--help"], ["worker", "--help"]] {
            let p = try Proc("help", args)
            let text = p.remainingOutput()
            #expect(p.wait(seconds: 20) == 0 && text.contains("USAGE"), "\(args)")
        }
        let worker = try String(contentsOfFile: "\(src)/tributary-worker@.service", encoding: .utf8)
        #expect(worker.contains("TRIBUTARY_COORDINATOR") && worker.contains("--metrics"))
    }

    @Test("deploy/kubernetes: kustomize renders namespace, config, coordinator StatefulSet and Service, worker Deployment; probes on /readyz and /healthz; workers find the coordinator through TRIBUTARY_COORDINATOR; the shipped cluster.conf passes config check",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"), "needs kubectl"))
    func kubernetesManifests() throws {
        let conf = NSTemporaryDirectory() + "k8s-\(UUID().uuidString.prefix(8)).conf"
        defer { try? FileManager.default.removeItem(atPath: conf) }
        let (status, err) = run("kubectl kustomize '\(repoRoot)/deploy/kubernetes' | python3 '\(repoRoot)/tools/check_kubernetes.py' '\(conf)'")
        #expect(status == 0, "\(err)")
        let check = try Proc("config-check", ["config", "check", conf])
        let text = check.remainingOutput()
        #expect(check.wait(seconds: 20) == 0, "\(text) \(check.log)")
    }
}
