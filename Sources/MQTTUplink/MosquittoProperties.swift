import CMosquitto

#if canImport(Glibc)
import Glibc
#endif

/// Converts between `MQTTProperties` and libmosquitto's property lists (`mosquitto_property *`).
enum MosquittoProperties {
    /// A new property list for PUBLISH (or a Will), or nil for none; the caller frees it with
    /// `mosquitto_property_free_all` unless libmosquitto took ownership. Returns the MOSQ_ERR of a failed add.
    static func make(_ properties: MQTTProperties) -> (list: OpaquePointer?, error: Int32) {
        var list: OpaquePointer?
        func check(_ rc: Int32) -> Bool { rc == MOSQ_ERR_SUCCESS.rawValue }
        var rc = MOSQ_ERR_SUCCESS.rawValue
        if let contentType = properties.contentType, check(rc) {
            rc = mosquitto_property_add_string(&list, Int32(MQTT_PROP_CONTENT_TYPE.rawValue), contentType)
        }
        if let expiry = properties.messageExpirySeconds, check(rc) {
            rc = mosquitto_property_add_int32(&list, Int32(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue), expiry)
        }
        if let responseTopic = properties.responseTopic, check(rc) {
            rc = mosquitto_property_add_string(&list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), responseTopic)
        }
        if let correlation = properties.correlationData, check(rc) {
            if correlation.count > Int(UInt16.max) {
                rc = MOSQ_ERR_INVAL.rawValue
            } else {
                rc = correlation.withUnsafeBytes {
                    mosquitto_property_add_binary(
                        &list, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), $0.baseAddress, UInt16($0.count))
                }
            }
        }
        for property in properties.userProperties where check(rc) {
            rc = mosquitto_property_add_string_pair(
                &list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), property.name, property.value)
        }
        if !check(rc) {
            mosquitto_property_free_all(&list)
            return (nil, rc)
        }
        return (list, rc)
    }

    /// The properties Axle uses, read out of a received message's list (others are ignored).
    static func read(_ list: OpaquePointer?) -> MQTTProperties {
        var result = MQTTProperties()
        var cursor = list
        while let property = cursor {
            let identifier = mosquitto_property_identifier(property)
            switch UInt32(identifier) {
            case MQTT_PROP_CONTENT_TYPE.rawValue:
                result.contentType = readString(property, identifier)
            case MQTT_PROP_RESPONSE_TOPIC.rawValue:
                result.responseTopic = readString(property, identifier)
            case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL.rawValue:
                var value: UInt32 = 0
                if mosquitto_property_read_int32(property, identifier, &value, false) != nil {
                    result.messageExpirySeconds = value
                }
            case MQTT_PROP_CORRELATION_DATA.rawValue:
                var bytes: UnsafeMutableRawPointer?
                var length: UInt16 = 0
                if mosquitto_property_read_binary(property, identifier, &bytes, &length, false) != nil {
                    result.correlationData = bytes.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(length))) } ?? []
                    free(bytes)
                }
            case MQTT_PROP_USER_PROPERTY.rawValue:
                var name: UnsafeMutablePointer<CChar>?
                var value: UnsafeMutablePointer<CChar>?
                if mosquitto_property_read_string_pair(property, identifier, &name, &value, false) != nil {
                    result.userProperties.append(
                        MQTTUserProperty(name: name.map { String(cString: $0) } ?? "", value: value.map { String(cString: $0) } ?? ""))
                }
                free(name)
                free(value)
            default:
                break
            }
            cursor = mosquitto_property_next(property)
        }
        return result
    }

    private static func readString(_ property: OpaquePointer, _ identifier: Int32) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard mosquitto_property_read_string(property, identifier, &value, false) != nil, let value else { return nil }
        defer { free(value) }
        return String(cString: value)
    }
}
