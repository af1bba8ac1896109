/// Everything the simulated vehicle knows about itself at one instant, in physical units.
///
/// The physics (`step`) is deliberately simple: plausible enough that telemetry looks like a real drive, cheap
/// enough to run faster than real time, and free of randomness (noise is added when signals are sent).
public struct VehicleState: Sendable, Equatable {
    /// Gear selector positions.
    public enum Gear: String, Sendable, Equatable, CaseIterable {
        case park = "P"
        case reverse = "R"
        case neutral = "N"
        case drive = "D"
    }

    public enum ReeferMode: String, Sendable, Equatable {
        case off
        case cooling
        case fault
    }

    public enum ChargingState: String, Sendable, Equatable {
        case idle
        case charging
        case complete
    }

    /// Seconds since the simulation started.
    public internal(set) var time: Double = 0
    /// km/h.
    public internal(set) var speed: Double = 0
    /// m/s².
    public internal(set) var acceleration: Double = 0
    public internal(set) var gear: Gear = .park
    /// 1…n in D, 0 in P and N, -1 in R.
    public internal(set) var transmissionGear = 0
    /// The ratio of the engaged gear (0 in P and N).
    public internal(set) var transmissionGearRatio: Double = 0
    public internal(set) var ignitionOn = false
    public internal(set) var engineRunning = false
    /// rpm.
    public internal(set) var engineSpeed: Double = 0
    /// %.
    public internal(set) var throttle: Double = 0
    /// % of reference torque.
    public internal(set) var engineTorque: Double = 0
    /// °C.
    public internal(set) var coolantTemp: Double = 15
    /// %.
    public internal(set) var coolantLevel: Double = 100
    public internal(set) var oilTemp: Double = 15
    /// kPa.
    public internal(set) var oilPressure: Double = 0
    /// %.
    public internal(set) var fuelLevel: Double = 50
    /// kPa.
    public internal(set) var fuelPressure: Double = 0
    /// L/h.
    public internal(set) var fuelRate: Double = 0
    /// V.
    public internal(set) var batteryVoltage: Double = 12.6
    /// km.
    public internal(set) var odometer: Double = 0
    public internal(set) var tripDistance: Double = 0
    /// Degrees, WGS 84.
    public internal(set) var latitude: Double = 0
    public internal(set) var longitude: Double = 0
    /// °C.
    public internal(set) var ambientTemp: Double = 15
    public internal(set) var cabinTemp: Double = 15
    public internal(set) var climateActive = false
    public internal(set) var climateTarget: Double = 21
    public internal(set) var cargoTemp: Double = 4
    public internal(set) var cargoSetpoint: Double = 4
    public internal(set) var reeferMode: ReeferMode = .cooling
    public internal(set) var trunkOpen = false
    public internal(set) var doorsLocked = false
    public internal(set) var driverDoorOpen = false
    public internal(set) var parkingBrake = true
    public internal(set) var brakePedal = false
    public internal(set) var crashed = false
    /// 0 (none) to 7.
    public internal(set) var crashSeverity = 0
    /// % of the traction battery.
    public internal(set) var stateOfCharge: Double = 80
    public internal(set) var charging: ChargingState = .idle
    /// kPa: front left, front right, rear left, rear right.
    public internal(set) var tyrePressures: [Double] = [230, 230, 240, 240]
    /// °C.
    public internal(set) var tyreTemp: Double = 15

    /// Metres travelled along the scenario's route.
    var routeDistance: Double = 0
    /// When the gearbox last shifted, so that it does not hunt.
    var lastShift: Double = -10

    /// A quantity's current value: a number in the quantity's unit, or a state name.
    public enum QuantityValue: Sendable, Equatable {
        case number(Double)
        case state(String)
    }

    /// The value of `quantity` (see `VehicleQuantity` for units and state names).
    public func value(of quantity: VehicleQuantity) -> QuantityValue {
        func flag(_ value: Bool) -> QuantityValue { .number(value ? 1 : 0) }
        switch quantity {
        case .vehicleSpeed: return .number(speed)
        case .engineSpeed: return .number(engineSpeed)
        case .gear: return .state(gear.rawValue)
        case .transmissionGear: return .number(Double(transmissionGear))
        case .transmissionGearRatio: return .number(transmissionGearRatio)
        case .ignition: return .state(ignitionOn ? "on" : "off")
        case .throttlePosition: return .number(throttle)
        case .engineTorque: return .number(engineTorque)
        case .coolantTemp: return .number(coolantTemp)
        case .coolantLevel: return .number(coolantLevel)
        case .oilTemp: return .number(oilTemp)
        case .oilPressure: return .number(oilPressure)
        case .fuelLevel: return .number(fuelLevel)
        case .fuelPressure: return .number(fuelPressure)
        case .fuelRate: return .number(fuelRate)
        case .fuelEconomy: return .number(fuelRate > 0.1 && speed > 1 ? speed / fuelRate : 0)
        case .batteryVoltage: return .number(batteryVoltage)
        case .odometer: return .number(odometer)
        case .tripDistance: return .number(tripDistance)
        case .longitudinalAccel: return .number(acceleration)
        case .latitude: return .number(latitude)
        case .longitude: return .number(longitude)
        case .ambientTemp: return .number(ambientTemp)
        case .cabinTemp: return .number(cabinTemp)
        case .climateActive: return flag(climateActive)
        case .climateTarget: return .number(climateTarget)
        case .cargoTemp: return .number(cargoTemp)
        case .cargoSetpoint: return .number(cargoSetpoint)
        case .reeferMode: return .state(reeferMode.rawValue)
        case .trunkOpen: return flag(trunkOpen)
        case .doorsLocked: return flag(doorsLocked)
        case .driverDoorOpen: return flag(driverDoorOpen)
        case .parkingBrake: return flag(parkingBrake)
        case .brakePedal: return flag(brakePedal)
        case .crash: return flag(crashed)
        case .crashSeverity: return .number(Double(crashSeverity))
        case .stateOfCharge: return .number(stateOfCharge)
        case .chargingState: return .state(charging.rawValue)
        case .tyrePressureFrontLeft: return .number(tyrePressures[0])
        case .tyrePressureFrontRight: return .number(tyrePressures[1])
        case .tyrePressureRearLeft: return .number(tyrePressures[2])
        case .tyrePressureRearRight: return .number(tyrePressures[3])
        case .tyreTemp: return .number(tyreTemp)
        }
    }

    /// The state at the start of `script`.
    init(script: ScenarioScript, model: VehicleModel) {
        ambientTemp = script.ambient
        cabinTemp = script.ambient
        coolantTemp = script.warmStart ? 88 : script.ambient
        oilTemp = script.warmStart ? 92 : script.ambient
        tyreTemp = script.ambient
        fuelLevel = model.initialFuelLevel
        odometer = model.initialOdometer
        batteryVoltage = model.nominalVoltage * 1.05
        tyrePressures = model.tyrePressures.count == 4 ? model.tyrePressures : [230, 230, 240, 240]
        doorsLocked = !script.drives
        gear = .park
        let position = script.route.position(atDistance: 0)
        latitude = position.latitude
        longitude = position.longitude
    }

    /// Advances the physics by `dt` seconds, to `t`.
    mutating func step(_ dt: Double, to t: Double, script: ScenarioScript, model: VehicleModel) {
        time = t

        // Events of the scenario.
        if let crashTime = script.crashTime, !crashed, t >= crashTime {
            crashed = true
            crashSeverity = 3
            doorsLocked = false
        }
        if let failure = script.reeferFailure, t >= failure { reeferMode = .fault }
        let leaking = script.coolantLeakStart.map { t >= $0 } ?? false

        // Driver: ignition on from the start, engine cranked at 1 s, D at `driveAway`.
        ignitionOn = script.drives
        engineRunning = ignitionOn && t >= 1 && !crashed
        var targetSpeed = 0.0
        if script.drives && t >= script.driveAway && !crashed {
            targetSpeed = min(script.cycle.speed(at: t), model.maximumSpeed)
        }
        var newSpeed = targetSpeed
        if crashed {
            // Hard braking after the impact, about 8 m/s².
            newSpeed = max(0, speed - 8 * 3.6 * dt)
        } else if abs(targetSpeed - speed) > 3 * 3.6 * dt {
            // Limit to 3 m/s², so that a capped cycle or a late start does not jump.
            newSpeed = speed + (targetSpeed > speed ? 1 : -1) * 3 * 3.6 * dt
        }
        acceleration = (newSpeed - speed) / 3.6 / dt
        // Doors lock themselves once, when the vehicle passes 15 km/h; a later unlock command stays in force.
        if script.drives && !crashed && speed <= 15 && newSpeed > 15 { doorsLocked = true }
        speed = newSpeed

        if !script.drives || (crashed && speed == 0) {
            gear = .park
        } else if t >= script.driveAway {
            gear = .drive
        }
        parkingBrake = gear == .park

        stepDrivetrain(dt, model: model)
        stepTemperatures(dt, leaking: leaking)
        stepConsumption(dt, model: model)

        // Position and distance.
        let metres = speed / 3.6 * dt
        odometer += metres / 1000
        tripDistance += metres / 1000
        routeDistance += metres
        let position = script.route.position(atDistance: routeDistance)
        latitude = position.latitude
        longitude = position.longitude

        // Tyres warm with speed; pressure follows the absolute temperature.
        tyreTemp += (ambientTemp + speed * 0.2 - tyreTemp) * dt / 600
        let ratio = (273.15 + tyreTemp) / (273.15 + ambientTemp)
        let cold = model.tyrePressures.count == 4 ? model.tyrePressures : tyrePressures
        tyrePressures = cold.map { $0 * ratio }

        if charging == .charging {
            if speed > 0.5 {
                charging = .idle
            } else {
                stateOfCharge = min(100, stateOfCharge + 0.012 * dt)
                if stateOfCharge >= 100 { charging = .complete }
            }
        }
    }

    private mutating func stepDrivetrain(_ dt: Double, model: VehicleModel) {
        let wheelRPM = speed / 3.6 / (2 * Double.pi * model.wheelRadius) * 60
        func rpm(inGear gear: Int) -> Double { wheelRPM * model.finalDrive * model.gearRatios[gear - 1] }
        switch gear {
        case .park, .neutral:
            transmissionGear = 0
        case .reverse:
            transmissionGear = -1
        case .drive:
            if transmissionGear < 1 || speed < 1 {
                transmissionGear = 1
            } else if time - lastShift > 0.8 {
                if transmissionGear < model.gearRatios.count, rpm(inGear: transmissionGear) > model.upshiftRPM {
                    transmissionGear += 1
                    lastShift = time
                } else if transmissionGear > 1, rpm(inGear: transmissionGear) < model.downshiftRPM {
                    transmissionGear -= 1
                    lastShift = time
                }
            }
        }
        transmissionGearRatio = transmissionGear == 0 ? 0 : model.gearRatios[max(transmissionGear, 1) - 1]

        if engineRunning {
            // A cold engine idles faster.
            let idle = model.idleRPM + max(0, 40 - coolantTemp) * 6
            var target = idle
            if transmissionGear > 0 { target = max(idle, rpm(inGear: transmissionGear) + max(acceleration, 0) * 120) }
            engineSpeed += (target - engineSpeed) * min(1, dt / 0.2)
            if acceleration > 0.05 {
                throttle = 8 + acceleration * 28 + speed * 0.15
            } else if acceleration > -0.05 && speed > 1 {
                // Holding speed against rolling resistance and drag.
                throttle = 4 + speed * speed * 0.0018
            } else {
                throttle = 0
            }
            throttle = min(max(throttle, 0), 100)
            engineTorque = min(100, 4 + throttle * 0.9)
        } else {
            engineSpeed = max(0, engineSpeed - engineSpeed * min(1, dt / 0.3) - 50 * dt)
            throttle = 0
            engineTorque = 0
        }
        brakePedal = (engineRunning && (acceleration < -0.2 || (gear == .drive && speed < 0.5))) || (crashed && speed > 0)
    }

    private mutating func stepTemperatures(_ dt: Double, leaking: Bool) {
        // Coolant: a first-order lag to the thermostat's 90 °C while running, back to ambient when off. A leak
        // drains the coolant and the engine overheats in proportion to what is lost.
        if leaking { coolantLevel = max(15, coolantLevel - 0.3 * dt) }
        let coolantTarget = engineRunning ? min(130, 90 + (100 - coolantLevel)) : ambientTemp
        let coolantLag = engineRunning ? (leaking ? 30.0 : 150.0) : 1800.0
        coolantTemp += (coolantTarget - coolantTemp) * dt / coolantLag
        oilTemp += ((engineRunning ? coolantTemp + 8 : ambientTemp) - oilTemp) * dt / (engineRunning ? 200 : 2400)
        if engineRunning {
            let target = 120 + engineSpeed * 0.12 + max(0, 80 - oilTemp) * 1.5 - max(0, oilTemp - 110) * 3
            oilPressure += (min(max(target, 60), 650) - oilPressure) * min(1, dt / 0.5)
        } else {
            oilPressure -= oilPressure * min(1, dt / 0.5)
        }

        let cabinTarget = climateActive ? climateTarget : (engineRunning ? 21 : ambientTemp)
        cabinTemp += (cabinTarget - cabinTemp) * dt / (climateActive ? 120 : (engineRunning ? 300 : 1800))

        switch reeferMode {
        case .cooling: cargoTemp += (cargoSetpoint - cargoTemp) * dt / 600
        case .off, .fault: cargoTemp += (ambientTemp - cargoTemp) * dt / 400
        }
    }

    private mutating func stepConsumption(_ dt: Double, model: VehicleModel) {
        fuelRate = engineRunning ? model.idleFuelRate + (model.maximumFuelRate - model.idleFuelRate) * throttle / 100 : 0
        fuelLevel = max(0, fuelLevel - fuelRate * dt / 3600 / model.fuelTankLitres * 100)
        fuelPressure += ((engineRunning ? model.fuelPressure + throttle * 0.3 : 0) - fuelPressure) * min(1, dt / 2)
        let voltage = model.nominalVoltage * (engineRunning ? 1.175 : 1.05)
        batteryVoltage += (voltage - batteryVoltage) * min(1, dt / 1.5)
    }

    /// Carries out a command's action (its delay has passed).
    mutating func apply(_ action: VehicleAction, argument: Double?) {
        switch action {
        case .openTrunk:
            if speed <= 3 { trunkOpen = true }
        case .closeTrunk:
            trunkOpen = false
        case .lock:
            doorsLocked = true
        case .unlock:
            doorsLocked = false
        case .startClimate:
            climateActive = true
            if let argument { climateTarget = argument }
        case .stopClimate:
            climateActive = false
        case .startCharging:
            if speed <= 0.5 { charging = stateOfCharge >= 100 ? .complete : .charging }
        case .stopCharging:
            charging = .idle
        case .setCargoSetpoint:
            if let argument, reeferMode != .fault { cargoSetpoint = argument }
        }
    }
}
