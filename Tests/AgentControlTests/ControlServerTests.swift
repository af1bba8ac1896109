import AgentControl
import AgentControlTestSupport
import AxleBase
import AxleTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A server and a client in one process, over a real Unix socket.
@Suite("Control socket")
struct ControlServerTests {
    @Test("each request gets its report from the handler")
    func everyRequest() throws {
        let running = try RunningServer()
        let client = running.client
        #expect(try client.status() == Fixtures.status)
        #expect(try client.outbox() == Fixtures.outbox)
        #expect(try client.signals() == Fixtures.signals)
        #expect(try client.events(limit: 20) == Fixtures.events)
        #expect(try client.rules() == Fixtures.rules)
        #expect(running.agent.calls.withLock { $0 } == ["status", "outbox", "signals", "events 20", "rules"])
    }

    @Test("the server applies the signal filter and the event limit itself")
    func filterAndLimit() throws {
        let running = try RunningServer()
        #expect(try running.client.signals(filter: "vehicle.body.*").signals.map(\.name)
            == ["Vehicle.Body.Lights.IsHighBeamOn", "Vehicle.Body.Trunk.Rear.IsOpen"])
        #expect(try running.client.events(limit: 2).events.map(\.name) == ["harsh_braking", "overspeed"])
    }

    @Test("root may switch a rule; the change shows in the next rules report")
    func setRule() throws {
        let running = try RunningServer(policy: ControlPolicy(privilegedUIDs: [UInt32(geteuid())]))
        let rule = try running.client.setRule(name: "harsh_braking", enabled: true)
        #expect(rule == RuleSummary(name: "harsh_braking", kind: "event", enabled: true))
        #expect(try running.client.rules().rules.allSatisfy(\.enabled))
    }

    @Test("a diagnostic request waits for its ECU on a thread of its own: status is answered meanwhile")
    func diagnosticAside() throws {
        let running = try RunningServer()
        running.agent.diagnosticsWait.withLock { $0 = true }
        let reply = Mutex<Result<DiagnosticReply, ControlClientError>?>(nil)
        let done = StopToken()
        let path = running.path
        startDedicatedThread(name: "asking") {
            let result = Result { () throws(ControlClientError) in try ControlClient(path: path).diagnostic(ecu: "engine", data: [0x09, 0x02]) }
            reply.withLock { $0 = result }
            done.requestStop()
        }
        // The ECU has not answered yet, and another technician's status request is answered all the same.
        #expect(try running.client.status() == Fixtures.status)
        #expect(reply.withLock { $0 } == nil)
        running.agent.diagnosticRelease.requestStop()
        #expect(done.wait(seconds: 10), "the diagnostic request was not answered within 10 s of the ECU's answer")
        let answer = try reply.withLock { $0 }?.get()
        #expect(answer == DiagnosticReply(ecu: "engine", outcome: .positive, data: [0x49, 0x02], seconds: 0.01))
        #expect(running.agent.calls.withLock { $0 }.contains("diagnostic engine 0902"))
    }

    @Test("reading an ECU is for anyone who may open the socket; clearing its codes is for root")
    func diagnosticPolicy() throws {
        let running = try RunningServer(policy: ControlPolicy(privilegedUIDs: []))
        #expect(try running.client.diagnostic(ecu: "engine", data: [0x03]).outcome == .positive)
        do {
            _ = try running.client.diagnostic(ecu: "engine", data: [0x04])
            Issue.record("clearing fault codes was allowed")
        } catch {
            #expect(error.failure?.code == .permissionDenied)
            #expect(error.message.contains("'diagnostic' with this service changes the vehicle and is allowed for root only"))
        }
        #expect(!running.agent.calls.withLock { $0 }.contains("diagnostic engine 04"), "the handler was not asked")
    }

    @Test("a caller without privilege gets permission-denied for set-rule, and the rule stays as it was")
    func setRuleRefused() throws {
        // Nobody is privileged here, so the test's own uid (root in CI) stands for an ordinary user.
        let running = try RunningServer(policy: ControlPolicy(privilegedUIDs: []))
        do {
            _ = try running.client.setRule(name: "speed_1hz", enabled: false)
            Issue.record("set-rule was allowed")
        } catch {
            #expect(error.code == .rejected)
            #expect(error.failure?.code == .permissionDenied)
            #expect(error.message.contains("allowed for root only (you are uid \(geteuid()))"))
            #expect(error.message.contains("sudo"))
        }
        #expect(try running.client.rules() == Fixtures.rules, "read-only requests still work")
        #expect(!running.agent.calls.withLock { $0 }.contains { $0.hasPrefix("set-rule") }, "the handler was not asked")
    }

    @Test("handler failures become error responses with the handler's code, or failed")
    func handlerFailures() throws {
        let running = try RunningServer()
        do {
            _ = try running.client.setRule(name: "no_such_rule", enabled: true)
            Issue.record("an unknown rule was accepted")
        } catch {
            #expect(error.failure == ControlFailure(.failed, "there is no collection rule named 'no_such_rule'; 'axle rules' lists them"))
        }
        let broken = try RunningServer(agent: FakeAgent(failure: SystemError(call: "read", subject: "can0", errno: ENETDOWN)))
        do {
            _ = try broken.client.status()
            Issue.record("a failing handler answered")
        } catch {
            #expect(error.failure?.code == .failed)
            #expect(error.message == "the agent could not answer 'status': can0: Network is down (read)")
        }
    }

    @Test("malformed request lines get bad-request or unknown-request, and the server keeps serving")
    func malformedLines() throws {
        let running = try RunningServer()
        let client = running.client
        let notJSON = try JSONValue.parse(try client.exchange(line: "status please"))
        #expect(notJSON["ok"]?.boolValue == false)
        #expect(notJSON["code"]?.stringValue == "bad-request")
        #expect(notJSON["error"]?.stringValue == "the request line is not JSON: line 1, column 1: unexpected 's'; expected a value")
        let unknown = try JSONValue.parse(try client.exchange(line: #"{"request":"reboot"}"#))
        #expect(unknown["code"]?.stringValue == "unknown-request")
        let missing = try JSONValue.parse(try client.exchange(line: #"{"request":"set-rule","enabled":true}"#))
        #expect(missing["code"]?.stringValue == "bad-request")
        #expect(missing["error"]?.stringValue == "malformed request: name: missing")
        let empty = try JSONValue.parse(try client.exchange(line: ""))
        #expect(empty["code"]?.stringValue == "bad-request")
        #expect(try client.status() == Fixtures.status)
    }

    @Test("a raw request line as socat would send it gets one JSON response line")
    func rawExchange() throws {
        let running = try RunningServer()
        let line = try running.client.exchange(line: #"  {"request": "rules"}  "#)
        #expect(line == #"{"ok":true,"result":"# + Fixtures.rules.toJSON().rendered() + "}")
    }

    @Test("an oversized request line is refused, and the server keeps serving")
    func oversizedLine() throws {
        let running = try RunningServer()
        let huge = #"{"request":"signals","filter":""# + String(repeating: "x", count: 70_000) + #""}"#
        let answer = try JSONValue.parse(try running.client.exchange(line: huge))
        #expect(answer["code"]?.stringValue == "bad-request")
        #expect(answer["error"]?.stringValue?.contains("longer than 65536 bytes") == true)
        let hugeNoNewline = String(repeating: "y", count: ControlServer.maximumRequestBytes * 3)
        let second = try JSONValue.parse(try running.client.exchange(line: hugeNoNewline))
        #expect(second["code"]?.stringValue == "bad-request")
        #expect(try running.client.rules() == Fixtures.rules)
    }

    @Test("a client that connects and sends nothing does not hold up the next one")
    func silentClientDoesNotBlock() throws {
        // The silent client's time would run out only after ten minutes: a server that waited for it before serving
        // others would let the requests below time out.
        let running = try RunningServer(requestTimeout: 600)
        let silent = try connectRaw(running.path)
        defer { close(silent) }
        #expect(try running.client.status(timeoutSeconds: 30) == Fixtures.status)
        #expect(try running.client.rules(timeoutSeconds: 30) == Fixtures.rules)
    }

    @Test("a client that sends no complete line in time gets bad-request, then end of file")
    func silentClientAnswered() throws {
        let running = try RunningServer()
        let silent = try connectRaw(running.path)
        defer { close(silent) }
        _ = "{\"request\":".withCString { write(silent, $0, strlen($0)) }
        let answer = try JSONValue.parse(readAll(silent))
        #expect(answer["code"]?.stringValue == "bad-request")
        #expect(answer["error"]?.stringValue?.contains("no complete request line within 1.0 s") == true)
    }

    @Test("many silent clients at once do not stop the server from answering")
    func manySilentClients() throws {
        let running = try RunningServer(requestTimeout: 0.5)
        let silent = try (0..<(ControlServer.maximumOpenConnections + 8)).map { _ in try connectRaw(running.path) }
        defer { for fd in silent { close(fd) } }
        #expect(try running.client.status(timeoutSeconds: 30) == Fixtures.status)
    }

    @Test("a socket file left by a dead agent is replaced; the new one has mode 0660")
    func staleSocket() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { _ = system("rm -rf " + AxleProcess.shellQuote(directory)) }
        let path = directory + "/axled.sock"
        try makeStaleSocket(path)
        #expect(throws: ControlClientError.self) { try ControlClient(path: path).status() }
        #expect(try isAgentNotRunning(ControlClient(path: path)), "a stale socket means the agent is not running")

        let server = ControlServer(path: path, group: nil, handler: FakeAgent())
        try server.start()
        #expect(try ControlClient(path: path).rules() == Fixtures.rules)
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o660)
        #expect(status.st_mode & S_IFMT == S_IFSOCK)
        server.stop()
        #expect(access(path, F_OK) != 0, "stop removes the socket file")
        #expect(try isAgentNotRunning(ControlClient(path: path)))
    }

    @Test("a second server on a live socket, or on a path that is not a socket, refuses and touches nothing")
    func refusesToSteal() throws {
        let running = try RunningServer()
        let second = ControlServer(path: running.path, group: nil, handler: FakeAgent())
        #expect {
            try second.start()
        } throws: { error in
            "\(error)".contains("another process is serving this socket")
        }
        #expect(try running.client.rules() == Fixtures.rules, "the first server still serves")

        let file = try AxleProcess.writeFile(running.directory + "/notes.txt", "keep me")
        #expect {
            try ControlServer(path: file, group: nil, handler: FakeAgent()).start()
        } throws: { error in
            "\(error)".contains("exists and is not a socket")
        }
        #expect(AxleProcess.readText(file) == "keep me")
    }

    @Test("the socket gets the configured group when it exists; a missing group is reported, not fatal")
    func group() throws {
        // The test's own group: any user may give a file it owns to its own group, root or not.
        let ownGroup = try #require(getgrgid(getegid()), "the test's group \(getegid()) has no name")
        let running = try RunningServer(group: String(cString: ownGroup.pointee.gr_name))
        #expect(running.startup == ControlServer.Startup(groupID: getegid(), groupProblem: nil))
        let missing = try RunningServer(group: "axle-no-such-group")
        #expect(missing.startup.groupID == nil)
        #expect(missing.startup.groupProblem?.contains("groupadd --system axle-no-such-group") == true)
        #expect(try missing.client.rules() == Fixtures.rules)
    }

    @Test("with nothing at the path, the client says the agent is not running and how to start it")
    func agentNotRunning() throws {
        let client = ControlClient(path: "/tmp/axle-no-such-dir/axled.sock")
        do {
            _ = try client.status()
            Issue.record("connected to nothing")
        } catch {
            #expect(error.isAgentNotRunning)
            #expect(error.description
                == "axled is not running (nothing listens on /tmp/axle-no-such-dir/axled.sock); start it with 'systemctl start axled'")
        }
    }

    @Test("stop and start again on the same path")
    func restart() throws {
        let directory = try AxleProcess.makeTemporaryDirectory()
        defer { _ = system("rm -rf " + AxleProcess.shellQuote(directory)) }
        let server = ControlServer(path: directory + "/axled.sock", group: nil, handler: FakeAgent())
        try server.start()
        server.stop()
        server.stop()
        try server.start()
        #expect(try ControlClient(path: directory + "/axled.sock").rules() == Fixtures.rules)
        server.stop()
    }

    // MARK: - Raw sockets

    private func isAgentNotRunning(_ client: ControlClient) throws -> Bool {
        do {
            _ = try client.rules()
            return false
        } catch {
            return error.isAgentNotRunning
        }
    }

    private func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// A connected socket that sends nothing.
    private func connectRaw(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = address(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw SystemError(call: "connect", subject: path, errno: errno) }
        return fd
    }

    /// A socket file with nobody listening, as a crashed agent leaves it.
    private func makeStaleSocket(_ path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = address(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw SystemError(call: "bind", subject: path, errno: errno) }
        close(fd)
    }

    /// Everything until end of file (blocking).
    private func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
