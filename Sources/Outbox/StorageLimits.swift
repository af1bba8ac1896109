/// Sizes derived from the cap and SQLite's page size (docs/outbox.md explains each).
struct StorageLimits: Sendable {
    let pageSize: Int64
    let capBytes: Int64
    /// How far past the cap the file may grow before SQLite itself refuses (`max_page_count`): covers the
    /// estimate of a new batch's size being short.
    let marginBytes: Int64
    let maxPageCount: Int64
    /// WAL frames before an automatic checkpoint (`wal_autocheckpoint`): smaller for small caps, so that the WAL
    /// stays small against the database.
    let checkpointPages: Int64
    /// What the WAL is truncated to after a checkpoint when it grew larger (`journal_size_limit`).
    let walLimitBytes: Int64
    /// The emergency reserve file: enough for a checkpoint to grow the database by everything an automatic
    /// checkpoint leaves behind, and a few critical records.
    let reserveBytes: Int64
    /// Pages that eviction can never free (schema, counters, drop ranges): an append must fit in the rest.
    let fixedBytes: Int64

    init(capBytes: Int64, pageSize: Int64) {
        let capPages = capBytes / pageSize
        self.pageSize = pageSize
        self.capBytes = capBytes
        marginBytes = max(16 * pageSize, capBytes / 32)
        maxPageCount = (capBytes + marginBytes) / pageSize
        checkpointPages = min(256, max(16, capPages / 32))
        walLimitBytes = 2 * checkpointPages * pageSize
        reserveBytes = (checkpointPages + 16) * pageSize
        fixedBytes = 16 * pageSize
    }

    /// A generous estimate of the bytes a batch takes, from SQLite's table b-tree layout: a row that fits in a page
    /// shares pages with its neighbours only as far as whole rows fit (two rows of 2,100 bytes take two 4 KiB pages),
    /// and a larger row keeps a local part and spills the rest into overflow pages. `rowSizes` are payload plus
    /// topic bytes.
    func estimatedBytes(rowSizes: [Int]) -> Int64 {
        let usable = Double(pageSize)
        let maxLocal = usable - 35
        let minLocal = ((usable - 12) * 32 / 255).rounded(.down) - 23
        // Record header, row id, created/expires/qos integers, and the cell's size prefix and pointer.
        let rowOverhead = 40.0
        func leafShare(_ cell: Double) -> Double { usable / max(1, ((usable - 8) / (cell + 2)).rounded(.down)) }
        var bytes = 0.0
        for size in rowSizes {
            let cell = Double(size) + rowOverhead
            if cell <= maxLocal {
                bytes += leafShare(cell)
            } else {
                var local = minLocal + (cell - minLocal).truncatingRemainder(dividingBy: usable - 4)
                if local > maxLocal { local = minLocal }
                let overflowPages = ((cell - local) / (usable - 4)).rounded(.up)
                bytes += overflowPages * usable + leafShare(local)
            }
        }
        // Interior pages, the expiry index, and the classes/meta pages the transaction rewrites.
        return Int64(bytes * 1.1) + 2 * pageSize
    }
}
