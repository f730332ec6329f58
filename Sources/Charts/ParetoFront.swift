/// The Pareto front of points where a smaller `cost` and a larger `value` are better (latency against quality):
/// the points no other point beats on one without losing on the other.
public enum ParetoFront {
    /// Indices of the non-dominated points, ordered by cost. Ties (equal cost and value) are all kept.
    public static func indices(cost: [Double], value: [Double]) -> [Int] {
        precondition(cost.count == value.count)
        let n = cost.count
        var front: [Int] = []
        for i in 0..<n where cost[i].isFinite && value[i].isFinite {
            let dominated = (0..<n).contains { j in
                j != i && cost[j].isFinite && value[j].isFinite && cost[j] <= cost[i] && value[j] >= value[i]
                    && (cost[j] < cost[i] || value[j] > value[i])
            }
            if !dominated { front.append(i) }
        }
        return front.sorted { (cost[$0], -value[$0], $0) < (cost[$1], -value[$1], $1) }
    }
}
