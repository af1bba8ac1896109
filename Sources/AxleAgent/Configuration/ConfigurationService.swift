import AgentCore
import AxleBase
import CommandStore
import ConfigBundle
import Dispatch
import FirmwareProfile
import MQTTUplink
import RemoteCommands

#if canImport(Glibc)
import Glibc
#endif

/// The `configuration` service: takes signed configuration bundles over MQTT and applies them safely
/// (docs/configuration.md). On its own thread, because everything it does blocks: fsynced chunk files, staging,
/// switching links, and waiting for the profile services to be replaced.
///
/// 1. `…/config/desired` names a version and its bundle; the bundle's chunks are fetched from their retained topics a
///    few at a time, each written to disk as it arrives, so that a link loss or a crash resumes where it stopped.
/// 2. The whole bundle is checked against the desired message's SHA-256, then verified (`BundleVerifier`: key role,
///    signature, expiry, addressee, version above the high-water mark, every file's hash).
/// 3. It is staged and validated as `axle profile validate` does, plus the allow-list of axled.toml
///    (`StagedProfileCheck`); the `current` link is switched; the profile services are replaced in-process
///    (`ProfileSwitcher`), and the version runs on trial until its health check passes (APPLIED) or fails (rolled back
///    by itself, never retried).
/// 4. Every change of state goes to `…/config/state` (retained) through the outbox, and again on every connect.
final class ConfigurationService: BlockingService {
    let name = "configuration"

    enum Input: Sendable {
        case message(MQTTMessage)
        case connected
    }

    private let inbox = BoundedQueue<Input>(capacity: 64)
    private let wakeup = DispatchSemaphore(value: 0)
    private let context: Context
    private let storeBox: SendableBox<ConfigurationStore>

    /// What the worker needs from the rest of the agent.
    struct Context: Sendable {
        let topics: ConfigurationTopics
        let verifier: BundleVerifier
        let client: MQTTClient
        let durable: DurableMessages
        let board: ConfigurationReportBoard
        let switcher: ProfileSwitcher
        let activeProfile: ActiveProfile
        let intake: CommandIntake
        /// Read to let a command under way finish before the services are switched.
        let journal: CommandJournal
        let installed: FirmwareProfile
        let settings: ConfigurationUpdateSettings
        let state: AgentState
        let log: AgentLog
        /// Tests only: `config-kill:<point>` kills the process at that point (the crash tests' 30 points).
        let killPoint: String?
    }

    init(store: ConfigurationStore, context: Context) {
        self.context = context
        self.storeBox = SendableBox(store)
    }

    /// On the MQTT client's thread: a message on a configuration topic.
    func receive(_ message: MQTTMessage) {
        if !inbox.offer(.message(message)) {
            // Chunks come back: an incomplete download asks again for what it misses.
            context.log(.info, "configuration", "busy: a message on \(message.topic) was set aside; it is asked for again")
        }
        wakeup.signal()
    }

    /// The link is up again: the report is republished.
    func connected() {
        inbox.offer(.connected)
        wakeup.signal()
    }

    /// Whether `topic` is one of this service's.
    func isConfigurationTopic(_ topic: String) -> Bool {
        topic == context.topics.desired || topic.hasPrefix(context.topics.prefix + "/config/bundles/")
    }

    func run(until stop: StopToken) {
        // The store was opened (and recovered) on the starting thread; this thread owns it from here on.
        let worker = ConfigurationWorker(store: storeBox.take(), context: context, stop: stop)
        worker.start()
        while !stop.isStopRequested {
            for input in inbox.takeAll() {
                switch input {
                case .message(let message): worker.handle(message)
                case .connected: worker.publishReport()
                }
            }
            worker.turn(now: monotonicSeconds())
            _ = wakeup.wait(timeout: .now() + .milliseconds(200))
        }
    }

    func interrupt() { wakeup.signal() }
}

/// The configuration service's state, owned by its thread.
final class ConfigurationWorker {
    /// A bundle being fetched: its chunks are files under `download/<sha256>/`, so that a restart keeps them.
    struct Download {
        let desired: DesiredConfiguration
        let directory: String
        var have: Set<Int>
        /// Chunks asked for (subscribed to) and not yet received.
        var asked: Set<Int> = []
        var lastProgress: Double
        var bytesReceived = 0
    }

    /// A version running on trial.
    struct Trial {
        let version: UInt64
        let startedMillis: Int64
        let started: Double
        let deadline: Double
        let frames: Int
        let decodedSignals: Int
    }

    private let store: ConfigurationStore
    private var journal: ConfigurationJournal
    private let context: ConfigurationService.Context
    private let stop: StopToken
    private var download: Download?
    private var trial: Trial?
    /// A desired version that arrived during a trial, taken up after it.
    private var waitingDesired: DesiredConfiguration?

    /// Refusals that bytes changed in transit would cause as well as a bad bundle (they come before the signature
    /// has verified, or from the transfer itself): a new push of the same version fetches it again.
    static let transportReasons: Set<String> = [
        ConfigurationFailure.bundleMismatch.rawValue, BundleRefusal.Reason.malformed.rawValue,
        BundleRefusal.Reason.badSignature.rawValue, BundleRefusal.Reason.unknownKey.rawValue,
        BundleRefusal.Reason.wrongRoleKey.rawValue, BundleRefusal.Reason.tooLarge.rawValue,
    ]
    /// The longest a switch waits for commands under way (a command's own timeout is shorter).
    static let commandWaitSeconds = 60.0
    /// Chunks asked for at once: 16 × 64 KiB in flight at most.
    static let chunksInFlight = 16
    /// With chunks missing and none arriving for this long, they are asked for again (a link loss, a broker that
    /// kept the session and does not resend retained messages, a chunk set aside).
    static let downloadRetrySeconds = 5.0
    /// A trial on a bus with no frames at all (the vehicle asleep) waits for frames this many trial lengths before
    /// it fails: a parked car is no reason to roll back.
    static let silentBusTrialFactor = 10.0
    /// Components whose problems during a trial are the new profile's doing (the link's are not).
    static let profileComponents: Set<String> = [
        "pipeline", "collection", "recorder", "events", "source", "can", "replay", "diagnostics", "location", "commands",
    ]

    init(store: ConfigurationStore, context: ConfigurationService.Context, stop: StopToken) {
        self.store = store
        self.context = context
        self.stop = stop
        self.journal = ConfigurationJournal(path: store.root + "/state.json")
        if let kill = context.killPoint, kill.hasPrefix("store:") {
            store.afterStep = { step in if kill == "store:" + step { Self.die(at: kill) } }
        }
    }

    /// At the service's start: subscribes to the desired topic (renewed on every reconnect) and publishes the state.
    func start() {
        _ = context.client.subscribe(context.topics.desired, qos: 1)
        publishReport()
    }

    // MARK: Messages

    func handle(_ message: MQTTMessage) {
        if message.topic == context.topics.desired {
            guard !message.payload.isEmpty else { return }  // A retained desired message cleared by the backend.
            do {
                // A retained message is delivered again on every connect; one delivered live was just published.
                desired(try DesiredConfiguration.parse(message.payload), pushedNow: !message.retain)
            } catch {
                context.log(.warning, "configuration", "ignored \(message.topic): \(error)")
            }
        } else {
            chunk(message)
        }
    }

    private func desired(_ desired: DesiredConfiguration, pushedNow: Bool = false) {
        if trial != nil {
            waitingDesired = desired
            return
        }
        if store.current == desired.version { return }  // Running it already.
        if let last = journal.last, last.version == desired.version, last.bundleSHA256 == desired.bundleSHA256 {
            // A version that ended is never retried, one being fetched goes on — except that bytes spoiled on the
            // way (chunks someone else published, a broker's fault) are fetched again when the backend pushes the
            // version again; its retained message, delivered on every connect, does not.
            let spoiled = last.reason.map(Self.transportReasons.contains) ?? false
            if (last.status.isFinal && !(spoiled && pushedNow)) || download?.desired == desired { return }
        }
        if download?.desired == desired { return }
        abandonDownload()
        guard desired.version > store.highWaterMark else {
            finish(desired, .failed, BundleRefusal.Reason.versionNotAbove.rawValue,
                "version \(desired.version) is not above \(store.highWaterMark), the highest this vehicle has taken")
            return
        }
        let directory = store.root + "/download/" + desired.bundleSHA256
        removeDownloads(except: desired.bundleSHA256)
        do {
            try ConfigurationStore.makeDirectory(store.root + "/download")
            try ConfigurationStore.makeDirectory(directory)
        } catch {
            // Chunks that cannot be kept are asked for again after a restart; the download goes on meanwhile.
            context.log(.warning, "configuration", "\(error)")
        }
        var have = Set<Int>()
        for index in 0..<desired.chunks {
            let expected = desired.range(ofChunk: index).count
            if let bytes = try? FileInput.readAll(path: directory + "/\(index)"), bytes.count == expected { have.insert(index) }
        }
        download = Download(desired: desired, directory: directory, have: have, lastProgress: monotonicSeconds())
        let resumed = have.isEmpty ? "" : ", \(have.count) already here"
        context.log(.info, "configuration", "receiving version \(desired.version): \(desired.bytes) bytes in \(desired.chunks) chunks\(resumed)")
        record(desired, .applying, nil, "receiving \(desired.chunks) chunks (\(desired.bytes) bytes)\(resumed)")
        faultPoint("after-desired")
        askForChunks()
        completeDownloadIfReady()
    }

    private func chunk(_ message: MQTTMessage) {
        guard var current = download else { return }
        let digest = current.desired.bundleSHA256
        let prefix = context.topics.chunk(bundleSHA256: digest, index: 0).dropLast()
        guard message.topic.hasPrefix(prefix), let index = Int(message.topic.dropFirst(prefix.count)),
            (0..<current.desired.chunks).contains(index)
        else { return }
        context.client.unsubscribe(message.topic)
        current.asked.remove(index)
        let expected = current.desired.range(ofChunk: index).count
        guard message.payload.count == expected else {
            context.log(.warning, "configuration", "chunk \(index) of version \(current.desired.version) is \(message.payload.count) bytes, not \(expected): asked for again later")
            download = current
            return
        }
        if index == 0, let refusal = earlyRefusal(message.payload) {
            // The header is in the first chunk: a bundle this vehicle would refuse is not fetched further.
            download = current
            abandonDownload()
            finish(current.desired, .failed, refusal.reason.rawValue, refusal.text)
            return
        }
        if !current.have.contains(index) {
            do {
                try DurableFile.write(message.payload, to: current.directory + "/\(index)")
            } catch {
                context.log(.warning, "configuration", "cannot keep chunk \(index): \(error)")
                download = current
                return
            }
            current.have.insert(index)
            current.bytesReceived += message.payload.count
        }
        current.lastProgress = monotonicSeconds()
        download = current
        faultPoint("after-chunk-\(index)")
        askForChunks()
        completeDownloadIfReady()
    }

    /// The checks a bundle's header allows (key, signature, expiry, addressee, version, limits), from chunk 0.
    private func earlyRefusal(_ firstChunk: [UInt8]) -> BundleRefusal? {
        guard case .success(let bundle) = ConfigurationBundle.split(firstChunk, maximumManifestBytes: context.verifier.limits.maximumManifestBytes)
        else { return nil }  // The header goes on past the first chunk: checked when the bundle is complete.
        if case .failure(let refusal) = context.verifier.verifyHeader(bundle, nowMillis: wallClockMillis(), highWaterMark: store.highWaterMark) {
            return refusal
        }
        return nil
    }

    /// Subscribes to missing chunks, up to `chunksInFlight` at once.
    private func askForChunks() {
        guard var current = download else { return }
        for index in 0..<current.desired.chunks where current.asked.count < Self.chunksInFlight {
            if current.have.contains(index) || current.asked.contains(index) { continue }
            current.asked.insert(index)
            _ = context.client.subscribe(context.topics.chunk(bundleSHA256: current.desired.bundleSHA256, index: index), qos: 1)
        }
        download = current
    }

    private func completeDownloadIfReady() {
        guard let current = download, current.have.count == current.desired.chunks else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(current.desired.bytes)
        for index in 0..<current.desired.chunks {
            guard let chunk = try? FileInput.readAll(path: current.directory + "/\(index)") else {
                context.log(.warning, "configuration", "chunk \(index) of version \(current.desired.version) cannot be read again: fetched again")
                download?.have.remove(index)
                askForChunks()
                return
            }
            bytes += chunk
        }
        abandonDownload()
        faultPoint("after-download")
        guard DesiredConfiguration.digest(of: bytes) == current.desired.bundleSHA256 else {
            finish(current.desired, .failed, ConfigurationFailure.bundleMismatch.rawValue,
                "the \(bytes.count) bytes received do not have the SHA-256 the desired message names")
            return
        }
        apply(bytes, desired: current.desired)
    }

    // MARK: Applying

    private func apply(_ bytes: [UInt8], desired: DesiredConfiguration) {
        let bundle: VerifiedBundle
        switch context.verifier.verify(bytes, nowMillis: wallClockMillis(), highWaterMark: store.highWaterMark) {
        case .failure(let refusal):
            finish(desired, .failed, refusal.reason.rawValue, refusal.text)
            return
        case .success(let verified):
            bundle = verified
        }
        guard bundle.manifest.version == desired.version else {
            finish(desired, .failed, ConfigurationFailure.bundleMismatch.rawValue,
                "the desired message names version \(desired.version), the bundle holds version \(bundle.manifest.version)")
            return
        }
        record(desired, .applying, nil, "staging \(bundle.manifest.files.count) files")
        faultPoint("before-stage")
        var problem: StagedProfileProblem?
        let staged: String
        do {
            staged = try store.stage(bundle) { directory in
                if case .failure(let found) = self.check(directory) { problem = found }
                return problem?.text
            }
        } catch {
            switch error.code {
            case .invalid: finish(desired, .failed, (problem?.failure ?? .invalid).rawValue, problem?.text ?? error.text)
            case .versionNotAbove: finish(desired, .failed, BundleRefusal.Reason.versionNotAbove.rawValue, error.text)
            case .notStaged, .storage: finish(desired, .failed, ConfigurationFailure.storage.rawValue, error.text)
            }
            return
        }
        // Loaded again from where it now lives (the staging folder was renamed): the services read its files.
        let profile: FirmwareProfile
        do {
            profile = try ProfileLoader.load(directory: staged)
        } catch {
            finish(desired, .failed, ConfigurationFailure.storage.rawValue, "the staged profile cannot be read again: \(error)")
            return
        }
        journal.bundles[desired.version] = desired.bundleSHA256
        record(desired, .applying, nil, "switching to version \(desired.version)")
        guard waitForCommands() else { return }  // The agent stops: the next start says what became of it.
        faultPoint("before-switch")
        do {
            try store.activate(desired.version)
        } catch {
            finish(desired, .failed, ConfigurationFailure.storage.rawValue, error.text)
            return
        }
        journal.keepBundles(of: [store.current, store.previous].compactMap { $0 })
        faultPoint("after-switch")
        let now = monotonicSeconds()
        let trialSeconds = context.settings.trialSeconds
        record(desired, .trial, nil, "running on trial for \(Agent.formatted(trialSeconds)) s")
        switchServices(to: profile)
        // The old pipeline published its final counts as it stopped: what the new one does is counted from here.
        let frames = context.state.current.counters
        faultPoint("after-reload")
        trial = Trial(
            version: desired.version, startedMillis: wallClockMillis(), started: now, deadline: now + trialSeconds,
            frames: frames.frames, decodedSignals: frames.decodedSignals)
    }

    /// A command under way (or accepted and queued) would be cut short by the switch, as by a shutdown: wait for the
    /// journal to have none, at most `commandWaitSeconds`. False when the agent is stopping meanwhile.
    private func waitForCommands() -> Bool {
        let deadline = monotonicSeconds() + Self.commandWaitSeconds
        var said = false
        while let running = try? context.journal.recent(limit: 32).first(where: { $0.status == .inProgress || $0.status == .accepted }),
            monotonicSeconds() < deadline
        {
            if !said {
                context.log(.info, "configuration", "waiting for \(running.name) \(running.id) to finish before switching")
                said = true
            }
            if stop.wait(seconds: 0.05) { return false }
        }
        return !stop.isStopRequested
    }

    /// What `axle profile validate` checks, and the allow-list.
    private func check(_ directory: String) -> Result<FirmwareProfile, StagedProfileProblem> {
        StagedProfileCheck.check(
            directory: directory, installed: context.installed,
            allowList: ProfileAllowList(settings: context.settings, installed: context.installed))
    }

    private func switchServices(to profile: FirmwareProfile) {
        let overran = context.switcher.switchTo(profile)
        context.activeProfile.switchTo(profile)
        context.intake.adopt(catalog: RemoteCommandService.catalog(of: profile))
        if !overran.isEmpty {
            context.log(.warning, "configuration", "switching profiles left behind: \(overran.joined(separator: ", "))")
        }
    }

    // MARK: Trial

    /// Called after every turn: decides a trial whose time is up, asks again for chunks that did not come.
    func turn(now: Double) {
        if let current = download, current.have.count < current.desired.chunks,
            now - current.lastProgress >= Self.downloadRetrySeconds
        {
            // Asking again for every chunk missing (those asked for, and one that came with the wrong size): a broker
            // sends a retained message on every new subscription.
            for index in current.asked {
                context.client.unsubscribe(context.topics.chunk(bundleSHA256: current.desired.bundleSHA256, index: index))
            }
            download?.asked = []
            download?.lastProgress = now
            context.log(.info, "configuration", "version \(current.desired.version): \(current.desired.chunks - current.have.count) chunks missing; asking again")
            askForChunks()
        }
        if let running = trial, context.killPoint == "mid-trial", now >= (running.started + running.deadline) / 2 {
            Self.die(at: "mid-trial")
        }
        guard let running = trial, now >= running.deadline else { return }
        let counters = context.state.current.counters
        let frames = counters.frames - running.frames
        let decoded = counters.decodedSignals - running.decodedSignals
        let seconds = Agent.formatted(now - running.started)
        let problems = context.state.recentProblems.filter {
            $0.timeMillis >= running.startedMillis && Self.profileComponents.contains($0.component)
        }
        if frames == 0 && !context.state.current.sourceEnded
            && now < running.started + context.settings.trialSeconds * Self.silentBusTrialFactor
        {
            return  // The bus is silent: wait for frames to judge by.
        }
        if decoded == 0 {
            failTrial(running, "no signal decoded in \(seconds) s of trial (\(frames) frames received)")
        } else if let problem = problems.last {
            failTrial(running, "\(problem.component): \(problem.message)")
        } else {
            trial = nil
            recordVersion(running.version, .applied, nil, "passed its trial: \(frames) frames, \(decoded) signals decoded in \(seconds) s")
            context.log(.notice, "configuration", "version \(running.version) applied: \(frames) frames, \(decoded) signals decoded in its \(seconds) s trial")
            faultPoint("after-applied")
            takeWaitingDesired()
        }
    }

    private func failTrial(_ running: Trial, _ why: String) {
        context.log(.warning, "configuration", "version \(running.version) failed its health check (\(why)): rolling back")
        faultPoint("before-rollback")
        do {
            try store.rollBack()
        } catch {
            context.log(.error, "configuration", "cannot roll back version \(running.version): \(error)")
        }
        trial = nil
        journal.keepBundles(of: [store.current, store.previous].compactMap { $0 })
        recordVersion(running.version, .rolledBack, ConfigurationFailure.healthCheckFailed.rawValue, why)
        faultPoint("after-rolled-back")
        _ = waitForCommands()
        switchServices(to: runningProfile())
        takeWaitingDesired()
    }

    private func takeWaitingDesired() {
        if let next = waitingDesired {
            waitingDesired = nil
            desired(next)
        }
    }

    /// The profile `current` names, or the installed one.
    private func runningProfile() -> FirmwareProfile {
        guard let directory = store.currentProfileDirectory else { return context.installed }
        do {
            return try ProfileLoader.load(directory: directory)
        } catch {
            context.log(.error, "configuration", "version \(store.current ?? 0) cannot be read (\(error)): running the installed profile")
            return context.installed
        }
    }

    // MARK: Reporting

    private func record(_ desired: DesiredConfiguration, _ status: ConfigurationStatus, _ reason: String?, _ text: String) {
        journal.last = ConfigurationReport.Received(
            version: desired.version, bundleSHA256: desired.bundleSHA256, status: status, reason: reason, text: text)
        saveAndReport()
    }

    private func recordVersion(_ version: UInt64, _ status: ConfigurationStatus, _ reason: String?, _ text: String) {
        guard var last = journal.last, last.version == version else { return }
        last.status = status
        last.reason = reason
        last.text = text
        journal.last = last
        saveAndReport()
    }

    private func finish(_ desired: DesiredConfiguration, _ status: ConfigurationStatus, _ reason: String, _ text: String) {
        context.log(.warning, "configuration", "version \(desired.version) \(status == .failed ? "refused" : "rolled back"): \(reason): \(text)")
        record(desired, status, reason, text)
        takeWaitingDesired()
    }

    private func saveAndReport() {
        do {
            try journal.save()
        } catch {
            context.log(.error, "configuration", "cannot save \(journal.path): \(error)")
        }
        publishReport()
    }

    /// The report as the store and the journal have it, to the board and (through the outbox) to the broker.
    func publishReport() {
        let report = ConfigurationWorker.report(store: store, journal: journal, installed: context.installed)
        context.board.publish(report)
        let message = MQTTMessage(
            topic: context.topics.state, payload: [], qos: 1, retain: true,
            properties: MQTTProperties(contentType: "application/json"))
        context.durable.publish(message, members: report.members)
    }

    static func report(store: ConfigurationStore, journal: ConfigurationJournal, installed: FirmwareProfile) -> ConfigurationReport {
        func described(_ version: UInt64) -> ConfigurationReport.Installed {
            let directory = store.directory(of: version)
            let name = (try? ConfigurationStore.names(in: directory))?.first ?? installed.name
            return .init(version: version, profile: name, bundleSHA256: journal.bundles[version])
        }
        let installedEntry = ConfigurationReport.Installed(version: 0, profile: installed.name, bundleSHA256: nil)
        let active = store.current.map(described) ?? installedEntry
        let previous = store.previous.map(described) ?? (store.current == nil ? nil : installedEntry)
        return ConfigurationReport(
            active: active, previous: previous, last: journal.last, highWaterMark: store.highWaterMark, atMillis: wallClockMillis())
    }

    // MARK: Files and crash points

    private func abandonDownload() {
        guard let current = download else { return }
        for index in current.asked {
            context.client.unsubscribe(context.topics.chunk(bundleSHA256: current.desired.bundleSHA256, index: index))
        }
        download = nil
        try? ConfigurationStore.removeTree(current.directory)
    }

    private func removeDownloads(except digest: String) {
        for name in (try? ConfigurationStore.names(in: store.root + "/download")) ?? [] where name != digest {
            try? ConfigurationStore.removeTree(store.root + "/download/" + name)
        }
    }

    private func faultPoint(_ point: String) {
        if context.killPoint == point { Self.die(at: point) }
    }

    /// Tests only: the process dies as in a power cut.
    static func die(at point: String) {
        let line = Array("<3>configuration: killed at \(point) (AXLE_FAULT_INJECTION)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        kill(getpid(), SIGKILL)
    }
}

extension ConfigurationWorker {
    /// At the agent's start, before any service runs: a version that had not passed its trial when the agent stopped
    /// (a crash, a power cut during staging, switching or the trial) is not kept — `current` goes back to what it
    /// named before, and the version is never tried again (the high-water mark is above it). Returns the profile to
    /// run: the one `current` names, complete, or the installed one; never a mix.
    static func recover(store: ConfigurationStore, installed: FirmwareProfile, log: AgentLog) -> FirmwareProfile {
        var journal = ConfigurationJournal(path: store.root + "/state.json")
        if let problem = journal.problem { log(.warning, "configuration", problem) }
        if var last = journal.last, last.status == .applying || last.status == .trial, store.highWaterMark >= last.version {
            // Staging had begun (the high-water mark is raised first): the version is not tried again.
            let phase = last.status == .trial ? "its trial" : "applying it"
            if store.current == last.version {
                do {
                    try store.rollBack()
                } catch {
                    log(.error, "configuration", "cannot roll back version \(last.version): \(error)")
                }
                last.status = .rolledBack
            } else {
                last.status = last.status == .trial ? .rolledBack : .failed
            }
            last.reason = ConfigurationFailure.agentRestarted.rawValue
            last.text = "the agent stopped during \(phase) (\(last.text ?? "")): version \(last.version) is not tried again"
            journal.last = last
            journal.keepBundles(of: [store.current, store.previous].compactMap { $0 })
            do {
                try journal.save()
            } catch {
                log(.error, "configuration", "cannot save \(journal.path): \(error)")
            }
            log(.warning, "configuration", "version \(last.version) \(last.status == .failed ? "not applied" : "rolled back"): \(last.text ?? "")")
        }
        guard let directory = store.currentProfileDirectory else { return installed }
        do {
            let profile = try ProfileLoader.load(directory: directory)
            log(.info, "configuration", "running version \(store.current ?? 0) of the configuration (\(profile.name))")
            return profile
        } catch {
            log(.error, "configuration", "version \(store.current ?? 0) cannot be read (\(error)): running the installed profile")
            return installed
        }
    }
}

extension Agent {
    /// The configuration service and the switcher it drives, made before the MQTT client starts (its messages are
    /// routed to the service from the first connection). A configuration key that cannot be read stops the agent at
    /// start, as a command key does.
    static func makeConfigurationService(
        _ configuration: AgentConfiguration, store: ConfigurationStore, installed: FirmwareProfile, client: MQTTClient,
        durable: DurableMessages, board: ConfigurationReportBoard, activeProfile: ActiveProfile,
        commands: RemoteCommandService, state: AgentState, log: AgentLog
    ) throws -> (service: ConfigurationService, switcher: ProfileSwitcher) {
        var keys: [ConfigurationPublicKey] = []
        for path in configuration.configurationUpdates.keyFiles {
            do {
                keys.append(try ConfigurationPublicKey(contentsOfFile: path))
            } catch {
                throw AgentConfigurationError("configuration key: \(error)")
            }
        }
        let commandKeyIDs = Set(configuration.commands.trustKeyFiles.compactMap { try? CommandPublicKey(contentsOfFile: $0).keyID })
        let switcher = ProfileSwitcher(log: log)
        let faultInjection = getenv("AXLE_FAULT_INJECTION").map { String(cString: $0) }
        let context = ConfigurationService.Context(
            topics: ConfigurationTopics(prefix: configuration.topicPrefix, vehicleID: configuration.vehicleID),
            verifier: BundleVerifier(vehicleID: configuration.vehicleID, configurationKeys: keys, commandKeyIDs: commandKeyIDs),
            client: client, durable: durable, board: board, switcher: switcher, activeProfile: activeProfile,
            intake: commands.intake, journal: commands.journal, installed: installed, settings: configuration.configurationUpdates, state: state,
            log: log, killPoint: faultInjection.flatMap { $0.hasPrefix("config-kill:") ? String($0.dropFirst("config-kill:".count)) : nil })
        if keys.isEmpty {
            log(.info, "configuration", "no configuration key (--config-key): every configuration bundle will be refused")
        } else {
            log(.info, "configuration", "trusting configuration keys \(keys.map(\.keyID).joined(separator: ", "))")
        }
        return (ConfigurationService(store: store, context: context), switcher)
    }
}
