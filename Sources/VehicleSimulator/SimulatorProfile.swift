/// Which DBC signals carry which vehicle quantities, which command frames cause which reactions, and the vehicle's
/// physical characteristics: everything the simulator needs to know about one kind of vehicle.
///
/// A plain value so that it can later be loaded from a file (it is `Codable`); the built-in ones are
/// `demoSedan` and `fleetTruckJ1939`.
public struct SimulatorProfile: Sendable, Equatable, Codable {
    /// Short name, such as `demo-sedan`.
    public var name: String
    /// Signals that carry vehicle quantities; a quantity may be carried by several signals.
    public var bindings: [SignalBinding]
    /// Command frames the simulator reacts to.
    public var commands: [CommandBinding]
    /// Seconds between receiving a command and the vehicle reporting its effect.
    public var reactionDelay: Double
    /// How checksum signals (by name, see `ChecksumScheme`) are computed; nil: they keep their start value.
    public var checksumScheme: ChecksumScheme?
    /// The node that stands for Axle itself (the telematics unit): messages it transmits are not simulated.
    public var agentNode: String?
    public var vehicle: VehicleModel
    /// The vehicle's diagnostic ECUs (an OBD-II engine ECU, a J1939 node sending DM1); nil: none.
    public var diagnostics: SimulatedDiagnostics?

    public init(
        name: String, bindings: [SignalBinding], commands: [CommandBinding] = [], reactionDelay: Double = 0.3,
        checksumScheme: ChecksumScheme? = nil, agentNode: String? = nil, vehicle: VehicleModel = VehicleModel(),
        diagnostics: SimulatedDiagnostics? = nil
    ) {
        self.name = name
        self.bindings = bindings
        self.commands = commands
        self.reactionDelay = reactionDelay
        self.checksumScheme = checksumScheme
        self.agentNode = agentNode
        self.vehicle = vehicle
        self.diagnostics = diagnostics
    }

    /// The built-in profiles, by name.
    public static let builtIn: [SimulatorProfile] = [.demoSedan, .fleetTruckJ1939]

    /// A built-in profile by name (`demo-sedan`, `fleet-truck-j1939`).
    public static func builtIn(named name: String) -> SimulatorProfile? {
        builtIn.first { $0.name == name }
    }
}

/// One DBC signal that carries a vehicle quantity.
public struct SignalBinding: Sendable, Equatable, Codable {
    public var quantity: VehicleQuantity
    public var message: String
    public var signal: String
    /// Multiplies numeric quantities into the signal's unit (such as 1000 for km → m).
    public var scale: Double
    /// For quantities with states (gear, ignition, …): the value to send for each state, as a `VAL_` label or a
    /// number. A state not listed is sent as a label of its own name (`P`, `D`).
    public var states: [String: String]

    public init(_ quantity: VehicleQuantity, _ message: String, _ signal: String, scale: Double = 1, states: [String: String] = [:]) {
        self.quantity = quantity
        self.message = message
        self.signal = signal
        self.scale = scale
        self.states = states
    }
}

/// A command frame the vehicle reacts to: when `signal` of `message` equals `value` (physical), `action` happens
/// after the profile's reaction delay, with `argumentSignal`'s value as its argument when it needs one.
public struct CommandBinding: Sendable, Equatable, Codable {
    public var message: String
    public var signal: String
    public var value: Double
    public var action: VehicleAction
    public var argumentSignal: String?

    public init(_ message: String, _ signal: String, equals value: Double, _ action: VehicleAction, argument: String? = nil) {
        self.message = message
        self.signal = signal
        self.value = value
        self.action = action
        self.argumentSignal = argument
    }
}

/// What a command asks the vehicle to do.
public enum VehicleAction: String, Sendable, Equatable, Codable, CaseIterable {
    /// Opens the trunk (or cargo door); refused while the vehicle moves faster than 3 km/h, as real vehicles do.
    case openTrunk = "open-trunk"
    case closeTrunk = "close-trunk"
    case lock
    case unlock
    /// Starts climate control; the argument is the target temperature in °C (default 21).
    case startClimate = "start-climate"
    case stopClimate = "stop-climate"
    /// Starts charging; refused while moving.
    case startCharging = "start-charging"
    case stopCharging = "stop-charging"
    /// Sets the refrigeration unit's target temperature (the argument, °C); no effect while the unit has failed.
    case setCargoSetpoint = "set-cargo-setpoint"
}

/// Physical characteristics used by the physics: drivetrain, tanks, electrical system.
public struct VehicleModel: Sendable, Equatable, Codable {
    /// Forward gear ratios, first gear first.
    public var gearRatios: [Double]
    public var finalDrive: Double
    /// Dynamic rolling radius in metres.
    public var wheelRadius: Double
    public var idleRPM: Double
    /// Shift up above this engine speed, down below `downshiftRPM`.
    public var upshiftRPM: Double
    public var downshiftRPM: Double
    /// Speeds in a scenario's drive cycle are capped here (km/h), like a speed limiter.
    public var maximumSpeed: Double
    public var fuelTankLitres: Double
    public var idleFuelRate: Double
    /// Fuel rate at full throttle, L/h.
    public var maximumFuelRate: Double
    /// Fuel pressure while the engine runs, kPa.
    public var fuelPressure: Double
    /// 12 or 24.
    public var nominalVoltage: Double
    /// Cold tyre pressures, kPa: front left, front right, rear left, rear right.
    public var tyrePressures: [Double]
    public var initialOdometer: Double
    public var initialFuelLevel: Double

    public init(
        gearRatios: [Double] = [4.71, 3.14, 2.11, 1.67, 1.29, 1.0, 0.84, 0.67], finalDrive: Double = 3.2,
        wheelRadius: Double = 0.32, idleRPM: Double = 750, upshiftRPM: Double = 2200, downshiftRPM: Double = 1150,
        maximumSpeed: Double = 210, fuelTankLitres: Double = 55, idleFuelRate: Double = 0.8,
        maximumFuelRate: Double = 28, fuelPressure: Double = 350, nominalVoltage: Double = 12,
        tyrePressures: [Double] = [230, 230, 240, 240], initialOdometer: Double = 12_345.6, initialFuelLevel: Double = 62.5
    ) {
        self.gearRatios = gearRatios
        self.finalDrive = finalDrive
        self.wheelRadius = wheelRadius
        self.idleRPM = idleRPM
        self.upshiftRPM = upshiftRPM
        self.downshiftRPM = downshiftRPM
        self.maximumSpeed = maximumSpeed
        self.fuelTankLitres = fuelTankLitres
        self.idleFuelRate = idleFuelRate
        self.maximumFuelRate = maximumFuelRate
        self.fuelPressure = fuelPressure
        self.nominalVoltage = nominalVoltage
        self.tyrePressures = tyrePressures
        self.initialOdometer = initialOdometer
        self.initialFuelLevel = initialFuelLevel
    }
}

/// A quantity of the simulated vehicle that a DBC signal can carry. Numbers are in the unit named here (the
/// binding's `scale` converts); quantities with states list them.
public enum VehicleQuantity: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    /// km/h.
    case vehicleSpeed
    /// rpm.
    case engineSpeed
    /// States `P`, `R`, `N`, `D`.
    case gear
    /// The automatic transmission's gear: 1…n while driving, 0 in P and N, -1 in R.
    case transmissionGear
    /// The ratio of the engaged gear (0 in P and N).
    case transmissionGearRatio
    /// States `off`, `on`.
    case ignition
    /// %.
    case throttlePosition
    /// Actual engine torque, % of reference.
    case engineTorque
    /// °C.
    case coolantTemp
    /// %.
    case coolantLevel
    /// °C.
    case oilTemp
    /// kPa.
    case oilPressure
    /// %.
    case fuelLevel
    /// kPa.
    case fuelPressure
    /// L/h.
    case fuelRate
    /// km/L, instantaneous.
    case fuelEconomy
    /// V.
    case batteryVoltage
    /// km.
    case odometer
    /// km since the start of the simulation.
    case tripDistance
    /// m/s².
    case longitudinalAccel
    /// Degrees, WGS 84.
    case latitude
    case longitude
    /// °C.
    case ambientTemp
    case cabinTemp
    /// 0 or 1.
    case climateActive
    /// °C.
    case climateTarget
    /// °C, inside the refrigerated cargo space.
    case cargoTemp
    case cargoSetpoint
    /// States `off`, `cooling`, `fault`.
    case reeferMode
    /// 0 or 1 (the cargo door on a truck).
    case trunkOpen
    case doorsLocked
    case driverDoorOpen
    case parkingBrake
    case brakePedal
    /// 0 or 1.
    case crash
    /// 0 (none) to 7.
    case crashSeverity
    /// % of the traction battery.
    case stateOfCharge
    /// States `idle`, `charging`, `complete`.
    case chargingState
    /// kPa.
    case tyrePressureFrontLeft
    case tyrePressureFrontRight
    case tyrePressureRearLeft
    case tyrePressureRearRight
    /// °C.
    case tyreTemp
}
