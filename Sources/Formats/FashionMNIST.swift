import Foundation
import Tensors

/// Fashion-MNIST as Debian's `dataset-fashion-mnist` installs it (`make fashion-data`): four gzipped IDX files
/// under `/usr/share/datasets/fashion-mnist`, 60,000 training and 10,000 test images of 28×28 grey pixels.
///
/// Images come as float32 NHWC `[N, 28, 28, 1]`, pixels / 255 (the scaling the Keras teacher in
/// `Tests/Fixtures/fashion-teacher` was trained with, see tools/fashion_mnist.py); labels as class indices 0...9.
///
/// ```swift
/// let (train, validation, test) = try FashionMNIST.standardSplits()
/// train.images.shape  // [55000, 28, 28, 1]; validation = the last 5,000 of the official train split
/// test.labels.count   // 10000
/// ```
public enum FashionMNIST {
    /// Where Debian installs the files.
    public static let defaultDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    /// Images held out from the end of the official train split for validation (model selection, early stopping);
    /// the test split is never used for either.
    public static let validationCount = 5000
    /// Image side in pixels.
    public static let side = 28
    /// Class names by label index.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// The two official splits and their file-name prefixes.
    public enum Split: String, Sendable, CaseIterable {
        case train
        case test = "t10k"

        /// The images file of this split under `directory`.
        public func imagesURL(in directory: URL) -> URL { directory.appendingPathComponent("\(rawValue)-images-idx3-ubyte.gz") }
        /// The labels file of this split under `directory`.
        public func labelsURL(in directory: URL) -> URL { directory.appendingPathComponent("\(rawValue)-labels-idx1-ubyte.gz") }
    }

    /// Labelled images.
    public struct Examples: Sendable {
        /// float32 `[N, 28, 28, 1]`, pixels / 255.
        public let images: Tensor
        /// Class index (0...9) per image.
        public let labels: [Int]
        /// Number of examples.
        public var count: Int { labels.count }

        /// Examples `range` (copies the images).
        public func slice(_ range: Range<Int>) -> Examples { Examples(images: images.rows(range), labels: Array(labels[range])) }
    }

    /// Reads one official split; a missing directory says to run `make fashion-data`.
    public static func load(_ split: Split, directory: URL = defaultDirectory) throws -> Examples {
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw FormatError.missingFile("\(fileLabel(directory)) (Fashion-MNIST: run `make fashion-data`)")
        }
        let imageFile = try IDXFile.read(split.imagesURL(in: directory))
        let labelFile = try IDXFile.read(split.labelsURL(in: directory))
        let dims = imageFile.dimensions
        guard imageFile.elementType == .uint8, dims.count == 3, dims[1] == side, dims[2] == side else {
            throw FormatError.invalid(
                file: imageFile.name, message: "expected uint8 images [N, \(side), \(side)], found \(imageFile.elementType) \(dims)")
        }
        guard labelFile.elementType == .uint8, labelFile.dimensions == [dims[0]] else {
            throw FormatError.invalid(
                file: labelFile.name,
                message: "expected \(dims[0]) uint8 labels to match the images, found \(labelFile.elementType) \(labelFile.dimensions)")
        }
        let labels = labelFile.payload.map { Int($0) }
        if let bad = labels.firstIndex(where: { $0 >= classNames.count }) {
            throw FormatError.invalid(file: labelFile.name, message: "label \(labels[bad]) at index \(bad) is not a class 0...9")
        }
        let images = try imageFile.floats(dividedBy: 255, shape: [dims[0], side, side, 1])
        return Examples(images: images, labels: labels)
    }

    /// train = the first 55,000 of the official train split, validation = its last 5,000, test = the official 10,000.
    public static func standardSplits(directory: URL = defaultDirectory) throws -> (train: Examples, validation: Examples, test: Examples) {
        let all = try load(.train, directory: directory)
        let cut = all.count - validationCount
        guard cut > 0 else {
            throw FormatError.invalid(
                file: fileLabel(Split.train.imagesURL(in: directory)), message: "\(all.count) images: too few to hold out \(validationCount)")
        }
        return (all.slice(0..<cut), all.slice(cut..<all.count), try load(.test, directory: directory))
    }
}
