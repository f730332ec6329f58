import CHDF5
import Foundation
import Tensors

// The serial HDF5 library (Debian's libhdf5-dev) keeps global state and is not thread safe, so every call
// goes through this one recursive lock (recursive: wrapper methods call each other while holding it).
private let hdf5Lock = NSRecursiveLock()

/// Runs `body` holding the global HDF5 lock, with HDF5's error printing turned off, under the watchdog that ends
/// the process with an error naming `file` if libhdf5 stops making progress (see ``HDF5Watchdog``).
private func locked<R>(_ file: String, _ body: () throws -> R) rethrows -> R {
    hdf5Lock.lock()
    defer { hdf5Lock.unlock() }
    let armed = HDF5Watchdog.arm(file)
    defer { if armed { HDF5Watchdog.disarm() } }
    // HDF5 prints its whole error stack to stderr by default; corrupt inputs must produce our one-line error
    // only. Debian's build is thread-safe, which makes this setting per thread, so set it on every entry.
    _ = chdf5_silence_errors()
    return try body()
}

/// The most specific message on HDF5's error stack (call right after a failed call, lock held).
private func hdf5Detail() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    chdf5_innermost_error(&buf)
    return String(cString: buf)
}

/// A small safe wrapper over the HDF5 C API: read numeric datasets as tensors, list groups, read and write
/// string attributes, write tensors. All calls are serialized by one global lock (serial HDF5 is not thread safe).
///
/// ```swift
/// let file = try HDF5File(readingFrom: URL(fileURLWithPath: "model.h5"))
/// let layers = try file.attributeStrings("layer_names", of: "/model_weights")
/// let kernel = try file.dataset("/model_weights/dense_1/digits_mlp/dense_1/kernel")  // F32 (64, 128)
/// ```
///
/// `@unchecked Sendable`: every HDF5 call, and every access to `fileID`, runs under the global HDF5 lock.
public final class HDF5File: @unchecked Sendable {
    /// The file on disk (for an in-memory image, a URL naming it for messages).
    public let url: URL
    /// How errors name this file.
    public let label: String
    private var fileID: hid_t

    /// Opens an existing file read-only.
    public init(readingFrom url: URL) throws {
        self.url = url
        let label = fileLabel(url)
        self.label = label
        guard FileManager.default.fileExists(atPath: url.path) else { throw FormatError.missingFile(label) }
        fileID = try locked(label) {
            guard H5Fis_hdf5(url.path) > 0 else {
                throw FormatError.invalid(file: label, message: "not an HDF5 file (no HDF5 signature)")
            }
            let id = H5Fopen(url.path, chdf5_acc_rdonly(), chdf5_p_default())
            guard id >= 0 else { throw FormatError.invalid(file: label, message: "cannot open HDF5: \(hdf5Detail())") }
            return id
        }
    }

    /// Creates (or truncates) a file for writing; call ``close()`` (or drop the object) to finish it.
    public init(creating url: URL) throws {
        self.url = url
        let label = fileLabel(url)
        self.label = label
        fileID = try locked(label) {
            let id = H5Fcreate(url.path, chdf5_acc_trunc(), chdf5_p_default(), chdf5_p_default())
            guard id >= 0 else { throw FormatError.io(file: label, message: "cannot create HDF5 file: \(hdf5Detail())") }
            return id
        }
    }

    /// Opens an HDF5 file image held in memory (HDF5's core driver; nothing touches the disk), read-only.
    /// `name` labels errors, e.g. `model.keras:model.weights.h5`.
    public init(image: Data, name: String) throws {
        url = URL(fileURLWithPath: name)
        label = name
        guard !image.isEmpty else { throw FormatError.invalid(file: name, message: "empty HDF5 image") }
        fileID = try locked(label) {
            let fapl = H5Pcreate(chdf5_p_file_access())
            guard fapl >= 0 else { throw FormatError.io(file: name, message: "cannot create a file access list") }
            defer { H5Pclose(fapl) }
            guard H5Pset_fapl_core(fapl, 1 << 16, false) >= 0 else {
                throw FormatError.io(file: name, message: "cannot select the HDF5 core driver")
            }
            // H5Pset_file_image copies the bytes.
            let status = image.withUnsafeBytes { H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
            guard status >= 0 else { throw FormatError.io(file: name, message: "cannot load the HDF5 image") }
            // The core driver identifies open files by name: a unique one keeps two images from aliasing.
            let unique = "compress-image-\(UUID().uuidString)-\(name)"
            let id = H5Fopen(unique, chdf5_acc_rdonly(), fapl)
            guard id >= 0 else { throw FormatError.invalid(file: name, message: "cannot open HDF5: \(hdf5Detail())") }
            return id
        }
    }

    deinit { try? close() }

    /// Flushes and closes the file; later calls fail. Closing twice is harmless.
    public func close() throws {
        try locked(label) {
            guard fileID >= 0 else { return }
            let status = H5Fclose(fileID)
            fileID = -1
            guard status >= 0 else { throw FormatError.io(file: label, message: "cannot close: \(hdf5Detail())") }
        }
    }

    private func openID() throws -> hid_t {
        guard fileID >= 0 else { throw FormatError.io(file: label, message: "file is closed") }
        return fileID
    }

    private static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/")
        return "/" + parts.joined(separator: "/")
    }

    // MARK: Reading

    /// Whether `path` names an existing group or dataset (intermediate groups are checked one by one, as
    /// `H5Lexists` requires).
    public func exists(_ path: String) -> Bool {
        locked(label) {
            guard fileID >= 0 else { return false }
            var current = ""
            for part in path.split(separator: "/") {
                current += "/" + part
                guard H5Lexists(fileID, current, chdf5_p_default()) > 0 else { return false }
            }
            return current.isEmpty || H5Oexists_by_name(fileID, current, chdf5_p_default()) > 0
        }
    }

    /// Whether `path` names an existing group.
    public func isGroup(_ path: String) -> Bool {
        locked(label) {
            guard exists(path) else { return false }
            let oid = H5Oopen(fileID, Self.normalized(path), chdf5_p_default())
            guard oid >= 0 else { return false }
            defer { H5Oclose(oid) }
            return H5Iget_type(oid) == H5I_GROUP
        }
    }

    /// Names of the members of `group`, sorted by name (byte order: "10" before "2"; sort numerically yourself).
    public func children(of group: String) throws -> [String] {
        try locked(label) {
            let fid = try openID()
            let path = Self.normalized(group)
            guard isGroup(path) else { throw FormatError.invalid(file: label, message: "no group '\(path)'") }
            let gid = H5Gopen2(fid, path, chdf5_p_default())
            guard gid >= 0 else { throw FormatError.invalid(file: label, message: "cannot open group '\(path)': \(hdf5Detail())") }
            defer { H5Gclose(gid) }
            var info = H5G_info_t()
            guard H5Gget_info(gid, &info) >= 0 else {
                throw FormatError.invalid(file: label, message: "cannot list group '\(path)': \(hdf5Detail())")
            }
            var names: [String] = []
            for i in 0..<info.nlinks {
                let length = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, chdf5_p_default())
                guard length >= 0 else {
                    throw FormatError.invalid(file: label, message: "cannot read member \(i) of group '\(path)': \(hdf5Detail())")
                }
                var buf = [CChar](repeating: 0, count: Int(length) + 1)
                _ = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, chdf5_p_default())
                names.append(String(cString: buf))
            }
            return names.sorted()
        }
    }

    /// Reads a numeric dataset: floats of any width become F32 (HDF5 converts float64 and float16), integers
    /// become I64 (64-bit, unsigned 32-bit), I32 (32-bit, 16-bit), I8 or U8. Scalars have shape `[]`.
    public func dataset(_ path: String) throws -> Tensor {
        try locked(label) {
            let fid = try openID()
            let p = Self.normalized(path)
            func fail(_ message: String) -> FormatError { FormatError.invalid(file: label, message: "dataset '\(p)': \(message)") }
            guard exists(p) else { throw FormatError.invalid(file: label, message: "no dataset '\(p)'") }
            let did = H5Dopen2(fid, p, chdf5_p_default())
            guard did >= 0 else { throw fail("cannot open (not a dataset?): \(hdf5Detail())") }
            defer { H5Dclose(did) }
            let tid = H5Dget_type(did)
            guard tid >= 0 else { throw fail("cannot read its type: \(hdf5Detail())") }
            defer { H5Tclose(tid) }
            let sid = H5Dget_space(did)
            guard sid >= 0 else { throw fail("cannot read its shape: \(hdf5Detail())") }
            defer { H5Sclose(sid) }

            let size = H5Tget_size(tid)
            let dtype: DType, memType: hid_t
            switch H5Tget_class(tid) {
            case H5T_FLOAT:
                (dtype, memType) = (.float32, chdf5_native_float())
            case H5T_INTEGER:
                let signed = H5Tget_sign(tid) != H5T_SGN_NONE
                switch (size, signed) {
                case (1, true): (dtype, memType) = (.int8, chdf5_native_int8())
                case (1, false): (dtype, memType) = (.uint8, chdf5_native_uint8())
                case (2, _), (4, true): (dtype, memType) = (.int32, chdf5_native_int32())
                default: (dtype, memType) = (.int64, chdf5_native_int64())
                }
            default:
                throw FormatError.unsupported(
                    file: label, message: "dataset '\(p)' is not numeric (HDF5 type class \(H5Tget_class(tid).rawValue))")
            }

            let shape: [Int]
            switch H5Sget_simple_extent_type(sid) {
            case H5S_SCALAR:
                shape = []
            case H5S_SIMPLE:
                let rank = Int(H5Sget_simple_extent_ndims(sid))
                guard rank >= 0 else { throw fail("cannot read its rank: \(hdf5Detail())") }
                var dims = [hsize_t](repeating: 0, count: max(rank, 1))
                guard H5Sget_simple_extent_dims(sid, &dims, nil) >= 0 else { throw fail("cannot read its dimensions: \(hdf5Detail())") }
                shape = dims.prefix(rank).map { Int(clamping: $0) }
            default:
                throw fail("has an empty (null) dataspace")
            }
            // A corrupt header can claim any shape; refuse before allocating rather than trap in malloc.
            do { try MemoryBudget.check(shape: shape, dtype: dtype, what: "dataset '\(p)'") } catch let e as TensorError {
                throw FormatError.invalid(file: label, message: e.description)
            }
            let tensor = Tensor(uninitialized: shape, dtype: dtype)
            if tensor.count > 0 {
                guard H5Dread(did, memType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), tensor.storage.pointer) >= 0 else {
                    throw fail("cannot read data: \(hdf5Detail())")
                }
            }
            return tensor
        }
    }

    /// A string attribute (fixed or variable length, scalar or one-element array) of the object at `path`;
    /// nil when the object has no attribute `name`.
    public func attributeString(_ name: String, of path: String) throws -> String? {
        try locked(label) {
            guard let values = try readStringAttribute(name, of: path) else { return nil }
            guard values.count == 1 else {
                throw FormatError.invalid(
                    file: label, message: "attribute '\(name)' of '\(Self.normalized(path))' holds \(values.count) strings, expected one")
            }
            return values[0]
        }
    }

    /// A string-array attribute (e.g. legacy Keras `layer_names`, `weight_names`); an empty attribute of any
    /// type (h5py stores `[]` as an empty float64 array) is `[]`. Throws when the attribute is missing.
    public func attributeStrings(_ name: String, of path: String) throws -> [String] {
        try locked(label) {
            guard let values = try readStringAttribute(name, of: path) else {
                throw FormatError.invalid(file: label, message: "'\(Self.normalized(path))' has no attribute '\(name)'")
            }
            return values
        }
    }

    /// Reads all strings of attribute `name`, or nil when it does not exist. Lock held by the caller.
    private func readStringAttribute(_ name: String, of path: String) throws -> [String]? {
        let fid = try openID()
        let p = Self.normalized(path)
        func fail(_ message: String) -> FormatError {
            FormatError.invalid(file: label, message: "attribute '\(name)' of '\(p)': \(message)")
        }
        guard exists(p) else { throw FormatError.invalid(file: label, message: "no object '\(p)' (looking for attribute '\(name)')") }
        let present = H5Aexists_by_name(fid, p, name, chdf5_p_default())
        guard present >= 0 else { throw fail("cannot check: \(hdf5Detail())") }
        if present == 0 { return nil }
        let aid = H5Aopen_by_name(fid, p, name, chdf5_p_default(), chdf5_p_default())
        guard aid >= 0 else { throw fail("cannot open: \(hdf5Detail())") }
        defer { H5Aclose(aid) }
        let tid = H5Aget_type(aid)
        guard tid >= 0 else { throw fail("cannot read its type: \(hdf5Detail())") }
        defer { H5Tclose(tid) }
        let sid = H5Aget_space(aid)
        guard sid >= 0 else { throw fail("cannot read its shape: \(hdf5Detail())") }
        defer { H5Sclose(sid) }
        let count = Int(H5Sget_simple_extent_npoints(sid))
        guard count >= 0 else { throw fail("cannot read its size: \(hdf5Detail())") }
        if count == 0 { return [] }
        guard H5Tget_class(tid) == H5T_STRING else { throw fail("is not a string") }

        if H5Tis_variable_str(tid) > 0 {
            let memType = H5Tcopy(chdf5_c_s1())
            defer { H5Tclose(memType) }
            H5Tset_size(memType, chdf5_variable())
            H5Tset_cset(memType, H5Tget_cset(tid))
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(aid, memType, &pointers) >= 0 else { throw fail("cannot read: \(hdf5Detail())") }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            H5Dvlen_reclaim(memType, sid, chdf5_p_default(), &pointers)
            return strings
        }
        // Fixed length: read with the file's own type (no conversion, so a NULLPAD string that fills its slot
        // keeps its last character), then cut at the first NUL and drop space padding.
        let size = H5Tget_size(tid)
        guard size > 0, size.multipliedReportingOverflow(by: count).overflow == false else { throw fail("has a bad string size \(size)") }
        let memType = H5Tcopy(tid)
        defer { H5Tclose(memType) }
        var buffer = [UInt8](repeating: 0, count: size * count)
        guard H5Aread(aid, memType, &buffer) >= 0 else { throw fail("cannot read: \(hdf5Detail())") }
        let spacePadded = H5Tget_strpad(tid) == H5T_STR_SPACEPAD
        return (0..<count).map { i in
            var slot = buffer[(i * size)..<((i + 1) * size)]
            if let nul = slot.firstIndex(of: 0) { slot = slot[..<nul] }
            if spacePadded { while slot.last == UInt8(ascii: " ") { slot = slot.dropLast() } }
            return String(decoding: slot, as: UTF8.self)
        }
    }

    // MARK: Writing

    /// Creates group `path` and any missing parents; an existing group is left as is.
    public func createGroup(_ path: String) throws {
        try locked(label) {
            let fid = try openID()
            let p = Self.normalized(path)
            if isGroup(p) { return }
            let lcpl = H5Pcreate(chdf5_p_link_create())
            defer { H5Pclose(lcpl) }
            H5Pset_create_intermediate_group(lcpl, 1)
            let gid = H5Gcreate2(fid, p, lcpl, chdf5_p_default(), chdf5_p_default())
            guard gid >= 0 else { throw FormatError.io(file: label, message: "cannot create group '\(p)': \(hdf5Detail())") }
            H5Gclose(gid)
        }
    }

    /// Writes `tensor` as dataset `path` (little-endian F32, I64, I32, I8 or U8), creating intermediate groups
    /// and replacing an existing dataset. F16/BF16 are refused: HDF5 has no standard type for them.
    public func write(_ tensor: Tensor, to path: String) throws {
        let types: (file: hid_t, memory: hid_t)
        switch tensor.dtype {
        case .float32: types = (chdf5_ieee_f32le(), chdf5_native_float())
        case .int64: types = (chdf5_std_i64le(), chdf5_native_int64())
        case .int32: types = (chdf5_std_i32le(), chdf5_native_int32())
        case .int8: types = (chdf5_std_i8le(), chdf5_native_int8())
        case .uint8: types = (chdf5_std_u8le(), chdf5_native_uint8())
        case .float16, .bfloat16:
            throw FormatError.unsupported(
                file: label,
                message: "dataset '\(Self.normalized(path))': \(tensor.dtype.rawValue) cannot be stored in HDF5 here (convert to F32)")
        }
        try tensor.withUnsafeBytes { raw in
            try writeRaw(raw.baseAddress, shape: tensor.shape, fileType: types.file, memoryType: types.memory, to: path)
        }
    }

    /// Writes float64 values (for tests of the float64 → F32 read path, and for tools that need doubles).
    func write(doubles: [Double], shape: [Int], to path: String) throws {
        precondition(shape.reduce(1, *) == doubles.count, "shape \(shape) does not hold \(doubles.count) values")
        try doubles.withUnsafeBytes { raw in
            try writeRaw(raw.baseAddress, shape: shape, fileType: chdf5_ieee_f64le(), memoryType: chdf5_native_double(), to: path)
        }
    }

    private func writeRaw(_ pointer: UnsafeRawPointer?, shape: [Int], fileType: hid_t, memoryType: hid_t, to path: String) throws {
        try locked(label) {
            let fid = try openID()
            let p = Self.normalized(path)
            func fail(_ message: String) -> FormatError { FormatError.io(file: label, message: "dataset '\(p)': \(message)") }
            if exists(p) { guard H5Ldelete(fid, p, chdf5_p_default()) >= 0 else { throw fail("cannot replace: \(hdf5Detail())") } }
            let dims = shape.map { hsize_t($0) }
            let sid = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), dims, nil)
            guard sid >= 0 else { throw fail("cannot create dataspace for shape \(shape)") }
            defer { H5Sclose(sid) }
            let lcpl = H5Pcreate(chdf5_p_link_create())
            defer { H5Pclose(lcpl) }
            H5Pset_create_intermediate_group(lcpl, 1)
            let did = H5Dcreate2(fid, p, fileType, sid, lcpl, chdf5_p_default(), chdf5_p_default())
            guard did >= 0 else { throw fail("cannot create: \(hdf5Detail())") }
            defer { H5Dclose(did) }
            if shape.reduce(1, *) > 0, let pointer {
                guard H5Dwrite(did, memoryType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), pointer) >= 0 else {
                    throw fail("cannot write: \(hdf5Detail())")
                }
            }
        }
    }

    /// Sets a variable-length UTF-8 string attribute on the object at `path` (replacing an existing one), as
    /// h5py does for Python `str`.
    public func setAttribute(_ name: String, string: String, on path: String) throws {
        try writeStringAttribute(name, [string], scalar: true, fixedLength: false, on: path)
    }

    /// Sets a 1-D string-array attribute; `fixedLength` writes NUL-padded byte strings like h5py's `numpy.bytes_`
    /// arrays (legacy Keras 2 files), otherwise variable-length UTF-8.
    public func setAttribute(_ name: String, strings: [String], fixedLength: Bool = false, on path: String) throws {
        try writeStringAttribute(name, strings, scalar: false, fixedLength: fixedLength, on: path)
    }

    private func writeStringAttribute(_ name: String, _ strings: [String], scalar: Bool, fixedLength: Bool, on path: String) throws {
        try locked(label) {
            let fid = try openID()
            let p = Self.normalized(path)
            func fail(_ message: String) -> FormatError {
                FormatError.io(file: label, message: "attribute '\(name)' of '\(p)': \(message)")
            }
            guard exists(p) else { throw FormatError.invalid(file: label, message: "no object '\(p)' to set attribute '\(name)' on") }
            if H5Aexists_by_name(fid, p, name, chdf5_p_default()) > 0 {
                guard H5Adelete_by_name(fid, p, name, chdf5_p_default()) >= 0 else { throw fail("cannot replace: \(hdf5Detail())") }
            }
            let type = H5Tcopy(chdf5_c_s1())
            defer { H5Tclose(type) }
            let utf8 = strings.map { Array($0.utf8) }
            let slot = max(1, utf8.map(\.count).max() ?? 1)
            if fixedLength {
                H5Tset_size(type, slot)
                H5Tset_strpad(type, H5T_STR_NULLPAD)
            } else {
                H5Tset_size(type, chdf5_variable())
                H5Tset_cset(type, H5T_CSET_UTF8)
            }
            var dims = [hsize_t(strings.count)]
            let sid = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
            guard sid >= 0 else { throw fail("cannot create dataspace") }
            defer { H5Sclose(sid) }
            let aid = H5Acreate_by_name(fid, p, name, type, sid, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            guard aid >= 0 else { throw fail("cannot create: \(hdf5Detail())") }
            defer { H5Aclose(aid) }
            let status: herr_t
            if fixedLength {
                var buffer = [UInt8](repeating: 0, count: slot * strings.count)
                for (i, bytes) in utf8.enumerated() { buffer.replaceSubrange((i * slot)..<(i * slot + bytes.count), with: bytes) }
                status = strings.isEmpty ? 0 : H5Awrite(aid, type, buffer)
            } else {
                var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
                defer { pointers.forEach { free($0) } }
                status = strings.isEmpty ? 0 : H5Awrite(aid, type, &pointers)
            }
            guard status >= 0 else { throw fail("cannot write: \(hdf5Detail())") }
        }
    }
}
