import DBC

/// A firmware profile: one vehicle platform and firmware version, loaded from `Firmware-Profiles/<name>/profile.toml`
/// and the DBC files it names (docs/profiles.md is the reference).
///
/// Everything here is resolved and checked by `ProfileLoader`: bus names exist, DBC signals exist, conditions are
/// parsed and name catalog signals only, command frames are encodable. Code that uses a profile does not re-check.
public struct FirmwareProfile: Sendable {
    public var name: String
    /// Human-readable platform, e.g. "Demo Sedan PHEV".
    public var platform: String
    public var firmware: String
    /// The folder the profile was loaded from.
    public var directory: String
    /// Logical buses, in file order. The OS interface of each comes from the agent configuration.
    public var buses: [LogicalBus]
    /// The signal catalog: DBC signals under their COVESA VSS names, in file order.
    public var catalog: [CatalogSignal]
    public var rules: [CollectionRule]
    public var events: [EventRule]
    public var commands: [CommandDefinition]
    /// Named areas (depots, customer sites) that conditions test with `inside(NAME)`.
    public var areas: [Area]
    /// Features that can be bought over the air, and the frames that switch each on and off.
    public var features: [FeatureDefinition]
    /// The GNSS receiver (through gpsd) and the catalog signals it feeds; nil: the profile has no `[location]`.
    public var location: LocationSource?
    /// ECUs the agent asks and the values it polls from them (`[diagnostics]`); nil: the profile has none.
    public var diagnostics: DiagnosticsConfiguration?

    public init(
        name: String, platform: String, firmware: String, directory: String, buses: [LogicalBus],
        catalog: [CatalogSignal], rules: [CollectionRule], events: [EventRule], commands: [CommandDefinition],
        areas: [Area] = [], features: [FeatureDefinition] = [], location: LocationSource? = nil,
        diagnostics: DiagnosticsConfiguration? = nil
    ) {
        self.name = name
        self.platform = platform
        self.firmware = firmware
        self.directory = directory
        self.buses = buses
        self.catalog = catalog
        self.rules = rules
        self.events = events
        self.commands = commands
        self.areas = areas
        self.features = features
        self.location = location
        self.diagnostics = diagnostics
    }

    public func bus(named name: String) -> LogicalBus? { buses.first { $0.name == name } }
    public func catalogSignal(named name: String) -> CatalogSignal? { catalog.first { $0.name == name } }

    /// The DBC signal behind each catalog entry, in catalog order (for value labels, units and ranges).
    public func catalogDBCSignals() -> [DBCSignal?] {
        catalog.map { entry in bus(named: entry.bus)?.database.message(named: entry.message)?.signal(named: entry.signal) }
    }
}

/// A logical bus ("body", "powertrain", "j1939"): the DBC that describes the traffic on it.
public struct LogicalBus: Sendable {
    public var name: String
    /// The DBC file's path as resolved (the profile folder joined with the file's `dbc` entry).
    public var dbcPath: String
    public var database: DBCDatabase
    /// The bus carries CAN FD frames.
    public var isFD: Bool
    public var line: Int

    public init(name: String, dbcPath: String, database: DBCDatabase, isFD: Bool, line: Int) {
        self.name = name
        self.dbcPath = dbcPath
        self.database = database
        self.isFD = isFD
        self.line = line
    }
}

/// One entry of the signal catalog: a DBC signal published under a VSS name with a unit.
public struct CatalogSignal: Sendable, Equatable {
    /// The COVESA VSS name, e.g. `Vehicle.Speed`, `Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature`.
    public var name: String
    public var bus: String
    public var message: String
    public var signal: String
    /// The unit as VSS gives it (`km/h`, `celsius`, `kPa`, …).
    public var unit: String
    /// A value older than this is stale: conditions and preconditions treat it as unknown.
    public var staleAfterSeconds: Double
    /// Whether values that are not readings (J1939 "not available" and "error", values outside the DBC's range) are
    /// told apart from readings: the profile's `range` key (docs/profiles.md).
    public var range: RangePolicy
    /// What the GNSS receiver gives this entry, when `[location]` names it; `bus`, `message` and `signal` are empty
    /// for an entry only the receiver feeds.
    public var location: LocationQuantity?
    /// For an entry the diagnostics service polls (`[diagnostics.signals]`): the ECU and what it is asked, such as
    /// `engine OBD PID 0x5C (engine_oil_temperature)`; `bus`, `message` and `signal` are then empty.
    public var diagnostic: String?
    public var line: Int

    /// Where the entry's values come from, for people: `Message.Signal`, `gpsd latitude` for the receiver's, or the
    /// ECU and parameter for a polled one.
    public var sourceDescription: String {
        if bus.isEmpty, let location { return "gpsd \(location.rawValue)" }
        if bus.isEmpty, let diagnostic { return diagnostic }
        return "\(message).\(signal)"
    }

    /// `range` in a catalog entry.
    public enum RangePolicy: String, Sendable, Equatable, CaseIterable {
        /// The default: values the DBC's range or J1939 mark as not readings are unknown, never samples.
        case check
        /// For a vehicle known to send real readings there: every decoded value is a reading.
        case ignore
    }

    public init(
        name: String, bus: String, message: String, signal: String, unit: String, staleAfterSeconds: Double,
        range: RangePolicy = .check, location: LocationQuantity? = nil, diagnostic: String? = nil, line: Int
    ) {
        self.name = name
        self.bus = bus
        self.message = message
        self.signal = signal
        self.unit = unit
        self.staleAfterSeconds = staleAfterSeconds
        self.range = range
        self.location = location
        self.diagnostic = diagnostic
        self.line = line
    }
}

/// How a collection rule turns a signal's stream of values into telemetry samples.
public enum CollectionMode: Sendable, Equatable {
    /// The latest value once per interval (nothing while the signal has no fresh value).
    case periodic(intervalSeconds: Double)
    /// A value whenever it moves more than `deadband` from the last one sent (0: any change); and at least every
    /// `heartbeatSeconds` when set, so that a steady value is still seen to be alive.
    case onChange(deadband: Double, heartbeatSeconds: Double?)
    /// One sample per function at the end of each window of `windowSeconds`.
    case aggregate(windowSeconds: Double, functions: [AggregateFunction])
}

public enum AggregateFunction: String, Sendable, Equatable, CaseIterable {
    case min, max, mean, count, last
}

/// A collection rule: a mode applied to a group of catalog signals. Rules can be switched on and off at runtime.
public struct CollectionRule: Sendable, Equatable {
    public var name: String
    /// Catalog (VSS) names.
    public var signals: [String]
    public var mode: CollectionMode
    public var enabled: Bool
    public var line: Int

    public init(name: String, signals: [String], mode: CollectionMode, enabled: Bool, line: Int) {
        self.name = name
        self.signals = signals
        self.mode = mode
        self.enabled = enabled
        self.line = line
    }
}

/// The outbox class an event is published with; `critical` is first out and takes the durable path.
public enum EventPriority: String, Sendable, Equatable, CaseIterable {
    case critical, alert, telemetry, bulk
}

/// A condition-triggered event: when `condition` becomes true, the event captures `capture` signals from
/// `preTriggerSeconds` before to `postTriggerSeconds` after the trigger and is published with `priority`.
/// It fires again only after the condition has been false.
public struct EventRule: Sendable, Equatable {
    public var name: String
    public var condition: Condition
    /// The condition as written, for logs and the event's attributes.
    public var conditionText: String
    public var priority: EventPriority
    /// Catalog (VSS) names.
    public var capture: [String]
    public var preTriggerSeconds: Double
    public var postTriggerSeconds: Double
    public var enabled: Bool
    public var line: Int

    public init(
        name: String, condition: Condition, conditionText: String, priority: EventPriority, capture: [String],
        preTriggerSeconds: Double, postTriggerSeconds: Double, enabled: Bool, line: Int
    ) {
        self.name = name
        self.condition = condition
        self.conditionText = conditionText
        self.priority = priority
        self.capture = capture
        self.preTriggerSeconds = preTriggerSeconds
        self.postTriggerSeconds = postTriggerSeconds
        self.enabled = enabled
        self.line = line
    }
}

/// A parsed condition over catalog signals (docs/profiles.md, "Conditions"). Value labels of the DBC (`"P"`) are
/// resolved to numbers when the profile is loaded.
public indirect enum Condition: Sendable, Equatable {
    case constant(Bool)
    /// True while the signal is known, fresh and non-zero.
    case truthy(signal: String)
    /// `lhs op rhs`. With a hysteresis h > 0 (only for <, <=, >, >=) it is a Schmitt trigger: `x > 110 hysteresis 5`
    /// becomes true above 110 and false again only at or below 105.
    case comparison(lhs: Operand, op: ComparisonOperator, rhs: Operand, hysteresis: Double)
    case not(Condition)
    case and([Condition])
    case or([Condition])
    /// True at the one evaluation where the inner condition turns from false to true.
    case rising(Condition)
    /// True at the one evaluation where the inner condition turns from true to false.
    case falling(Condition)
    /// `inner for 10s`: true once the inner condition has held without a break for `seconds`.
    case sustained(Condition, seconds: Double)
    /// `inside(depots)`: the vehicle's position (the area's latitude and longitude signals) lies in one of the
    /// area's circles. Unknown while either coordinate is unknown or stale.
    case inside(area: String)
    /// `error(SIGNAL)` / `not_available(SIGNAL)`: the newest value the vehicle sent for the signal is an error
    /// indicator / "not available" (J1939's, or outside the DBC range: docs/dbc.md). False while the newest value is
    /// anything else; unknown before the first value and once the newest is older than the signal's `stale-after`.
    case reports(signal: String, availability: SignalAvailability)

    /// Every catalog signal the condition reads, in order of appearance, without repeats.
    public var signals: [String] {
        var names: [String] = []
        func add(_ name: String) { if !names.contains(name) { names.append(name) } }
        func visit(_ condition: Condition) {
            switch condition {
            case .constant, .inside: break
            case .truthy(let signal), .reports(let signal, _): add(signal)
            case .comparison(let lhs, _, let rhs, _):
                if case .signal(let name) = lhs { add(name) }
                if case .signal(let name) = rhs { add(name) }
            case .not(let inner), .rising(let inner), .falling(let inner), .sustained(let inner, _): visit(inner)
            case .and(let parts), .or(let parts): parts.forEach(visit)
            }
        }
        visit(self)
        return names
    }
}

public enum Operand: Sendable, Equatable {
    case signal(String)
    case number(Double)
}

public enum ComparisonOperator: String, Sendable, Equatable, CaseIterable {
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">=", equal = "==", notEqual = "!="
}

/// A remote command the profile can execute (the remote-commands issue runs them): a CAN message built with the DBC
/// encoder, sent `repeats` times `intervalSeconds` apart, allowed only when `precondition` holds and confirmed when
/// `confirmation` becomes true within `timeoutSeconds`.
/// A feature sold over the air (`[features."performance-boost"]`): the frames that switch it on and off, written like
/// a command whose `set` uses the parameter `$enabled` (1 on activation, 0 on deactivation).
public struct FeatureDefinition: Sendable, Equatable {
    /// The feature id the backend grants, e.g. `performance-boost`.
    public var name: String
    /// The frames, with the declared parameter `enabled` (range 0…1). They go out whenever the entitlement turns on or
    /// off (FeatureManager); the loader refuses a precondition, confirmation or timeout, so both stay nil.
    public var action: CommandDefinition

    public init(name: String, action: CommandDefinition) {
        self.name = name
        self.action = action
    }
}

public struct CommandDefinition: Sendable, Equatable {
    /// Dotted command name, e.g. `trunk.open`, `climate.precondition`.
    public var name: String
    public var bus: String
    public var message: String
    /// Signal name → what to put in it. Signals of the message not listed here are 0 (or their counter value).
    public var signals: [String: SignalSetting]
    public var parameters: [CommandParameter]
    /// A rolling counter signal of the message, incremented per frame sent.
    public var counterSignal: String?
    public var repeats: Int
    public var intervalSeconds: Double
    public var precondition: Condition?
    public var confirmation: Condition?
    /// The precondition and confirmation as written in the profile, for the texts a command's sender reads.
    public var preconditionText: String?
    public var confirmationText: String?
    public var timeoutSeconds: Double
    public var line: Int

    public init(
        name: String, bus: String, message: String, signals: [String: SignalSetting], parameters: [CommandParameter],
        counterSignal: String?, repeats: Int, intervalSeconds: Double, precondition: Condition?,
        confirmation: Condition?, timeoutSeconds: Double, line: Int, preconditionText: String? = nil,
        confirmationText: String? = nil
    ) {
        self.preconditionText = preconditionText
        self.confirmationText = confirmationText
        self.name = name
        self.bus = bus
        self.message = message
        self.signals = signals
        self.parameters = parameters
        self.counterSignal = counterSignal
        self.repeats = repeats
        self.intervalSeconds = intervalSeconds
        self.precondition = precondition
        self.confirmation = confirmation
        self.timeoutSeconds = timeoutSeconds
        self.line = line
    }
}

public enum SignalSetting: Sendable, Equatable {
    /// A fixed physical value (a value label such as `"Open"` is resolved when loading).
    case constant(Double)
    /// The value of the command's parameter of this name.
    case parameter(String)
}

/// A numeric command parameter with its allowed range; without a default it is required.
public struct CommandParameter: Sendable, Equatable {
    public var name: String
    public var minimum: Double
    public var maximum: Double
    public var defaultValue: Double?
    public var unit: String

    public init(name: String, minimum: Double, maximum: Double, defaultValue: Double?, unit: String) {
        self.name = name
        self.minimum = minimum
        self.maximum = maximum
        self.defaultValue = defaultValue
        self.unit = unit
    }
}

/// A named set of circles on the map, with the catalog signals that give the vehicle's position.
public struct Area: Sendable, Equatable {
    public var name: String
    public var latitudeSignal: String
    public var longitudeSignal: String
    public var circles: [Circle]
    public var line: Int

    public struct Circle: Sendable, Equatable {
        public var latitude: Double
        public var longitude: Double
        public var radiusMetres: Double

        public init(latitude: Double, longitude: Double, radiusMetres: Double) {
            self.latitude = latitude
            self.longitude = longitude
            self.radiusMetres = radiusMetres
        }
    }

    public init(name: String, latitudeSignal: String, longitudeSignal: String, circles: [Circle], line: Int) {
        self.name = name
        self.latitudeSignal = latitudeSignal
        self.longitudeSignal = longitudeSignal
        self.circles = circles
        self.line = line
    }
}
