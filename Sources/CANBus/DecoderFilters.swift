import DBC

extension CompiledDecoder {
    /// Kernel filters that let through exactly the frames this decoder can decode: each message's id, and for J1939
    /// messages every id with the same parameter group number. The kernel then drops everything else before it
    /// reaches the agent. (`CANSocket.setFilters` takes up to `CANSocket.maximumFilters`; a larger decoder should
    /// capture everything.)
    public var kernelFilters: [CANFilter] {
        var filters: [CANFilter] = []
        var seen = Set<CANFilter>()
        for message in messages {
            let filter = message.isJ1939 ? CANFilter.j1939(pgn: J1939.pgn(ofID: message.id)) : .exact(id: message.id, isExtended: message.isExtended)
            if seen.insert(filter).inserted { filters.append(filter) }
        }
        return filters
    }
}
