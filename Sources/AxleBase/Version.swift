/// The version of every Axle executable and of the payloads it writes.
public enum AxleVersion {
    public static let current = "0.1.0"
}
