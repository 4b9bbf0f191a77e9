//! Exact (unregularized) optimal transport between weighted 2D point clouds, by the network simplex.
//!
//! # Problem
//! W(α, β) = min_π Σᵢⱼ πᵢⱼ |xᵢ − yⱼ|² over the plans π ≥ 0 with row sums a and column sums b (cost
//! |x − y|², as in [`super::sinkhorn`]; for |x − y|²/2 halve the value). With that cost W is the squared
//! 2-Wasserstein distance W₂² between α = Σ aᵢ δ_{xᵢ} and β = Σ bⱼ δ_{yⱼ}. Weights are any non-negative
//! numbers summing to 1 on each side (uniform or not): this is the linear program POT's `ot.emd2` solves.
//!
//! # Method
//! The primal network simplex on the complete bipartite graph (sources → sinks, uncapacitated) with an
//! artificial root, the scheme of LEMON's `NetworkSimplex` that POT's `emd` wraps (written here from the
//! textbook method, not from their code): a spanning tree of N + M arcs starts on the artificial arcs
//! (node → root carrying its supply, cost 0; root → node carrying its demand, cost (C_max + 1)·(N + M + 1));
//! each pivot picks an entering arc of negative reduced cost by block search (blocks of ⌈√(N·M)⌉ arcs,
//! resumed where the last one ended), and the leaving arc by Cunningham's rule (the last blocking arc of
//! the cycle met from its apex), which keeps the tree strongly feasible and so cannot cycle on degenerate
//! pivots (uniform weights are highly degenerate). After a pivot the tree's parents, depths and node
//! potentials are recomputed from the root (O(N + M)). Costs |xᵢ − yⱼ|² are computed when needed; memory is
//! O(N + M). It stops when no arc has reduced cost below −1e-10·(C_max + 1), so the value is optimal to
//! that much (the reduced costs bound the gap by their minimum times the total mass 1); the dual value
//! Σ aᵢ fᵢ + Σ bⱼ gⱼ of the final potentials is returned beside it as a check. Serial and deterministic.
//!
//! # Size
//! A pivot costs O(√(N·M) + N + M) at least (more when many blocks hold no candidate) and the pivots grow
//! faster than N + M: measured once, 1000² points 2–3 s, 2000² 25 s, 3000² 46 s, 5000² 238 s (docs/
//! conventions.md). [`MAX_EXACT_POINTS`] points a side at most (refused above, naming the limit).

use super::error::{CoreError, CoreResult};
use super::math::{Vec2, dist2};
use super::sinkhorn::check_cloud;

/// Most points of either cloud [`exact_ot`] accepts.
pub const MAX_EXACT_POINTS: usize = 3000;

/// An optimal plan and its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactOt {
    /// Σ πᵢⱼ |xᵢ − yⱼ|² of the optimal plan (W₂² for this cost).
    pub cost: f64,
    /// The dual value Σ aᵢ fᵢ + Σ bⱼ gⱼ of the final potentials (equal to `cost` at the optimum, up to the
    /// stopping tolerance and rounding).
    pub dual: f64,
    /// The plan's non-zero entries (i, j, πᵢⱼ): at most N + M − 1 of them (a basic solution).
    pub plan: Vec<(usize, usize, f64)>,
    /// Dual potentials f (sources) and g (targets), fᵢ + gⱼ ≤ |xᵢ − yⱼ|² + tolerance.
    pub f: Vec<f64>,
    pub g: Vec<f64>,
    /// Simplex pivots done.
    pub pivots: usize,
}

/// One arc of the spanning tree.
#[derive(Debug, Clone, Copy)]
struct TreeArc {
    from: usize,
    to: usize,
    cost: f64,
    flow: f64,
    /// The real arc (source i, target j), or `None` for an artificial arc.
    real: Option<(usize, usize)>,
}

/// Exact OT between (x, a) and (y, b) for the cost |x − y|² (module docs). Refuses clouds above
/// [`MAX_EXACT_POINTS`] points, weights that do not sum to 1 (±1e-6) and non-finite points.
pub fn exact_ot(x: &[Vec2], a: &[f64], y: &[Vec2], b: &[f64]) -> CoreResult<ExactOt> {
    check_cloud("source", x, a)?;
    check_cloud("target", y, b)?;
    for (name, n) in [("source", x.len()), ("target", y.len())] {
        if n > MAX_EXACT_POINTS {
            return Err(CoreError::invalid(format!(
                "exact OT: the {name} cloud has {n} points; the network simplex is limited to \
                 {MAX_EXACT_POINTS} points a side (subsample, or use the Sinkhorn rows)"
            )));
        }
    }
    // Centre the points (the cost does not change) to keep |x − y|² accurate.
    let n_all = (x.len() + y.len()) as f64;
    let c = x.iter().chain(y).fold([0.0, 0.0], |s, p| {
        [s[0] + p[0] / n_all, s[1] + p[1] / n_all]
    });
    let xc: Vec<Vec2> = x.iter().map(|p| [p[0] - c[0], p[1] - c[1]]).collect();
    let yc: Vec<Vec2> = y.iter().map(|p| [p[0] - c[0], p[1] - c[1]]).collect();
    let cost = |i: usize, j: usize| dist2(xc[i], yc[j]);
    network_simplex(a, b, cost)
}

/// The network simplex on the complete bipartite graph with supplies `a`, demands `b` and arc costs
/// `cost(i, j)` ≥ 0 (module docs).
pub(super) fn network_simplex(
    a: &[f64],
    b: &[f64],
    cost: impl Fn(usize, usize) -> f64,
) -> CoreResult<ExactOt> {
    let (n, m) = (a.len(), b.len());
    let nodes = n + m + 1;
    let root = n + m;
    let mut c_max: f64 = 0.0;
    for i in 0..n {
        for j in 0..m {
            c_max = c_max.max(cost(i, j));
        }
    }
    if !c_max.is_finite() {
        return Err(CoreError::non_finite("exact OT: a transport cost"));
    }
    let art = (c_max + 1.0) * nodes as f64;
    let tolerance = 1e-10 * (c_max + 1.0);
    // The initial tree: every node hangs from the root by its artificial arc.
    let mut arcs: Vec<TreeArc> = Vec::with_capacity(n + m);
    for (v, supply) in a.iter().copied().chain(b.iter().map(|&d| -d)).enumerate() {
        arcs.push(if supply >= 0.0 {
            TreeArc {
                from: v,
                to: root,
                cost: 0.0,
                flow: supply,
                real: None,
            }
        } else {
            TreeArc {
                from: root,
                to: v,
                cost: art,
                flow: -supply,
                real: None,
            }
        });
    }
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for (slot, e) in arcs.iter().enumerate() {
        adj[e.from].push(slot);
        adj[e.to].push(slot);
    }
    let mut tree = Tree::new(nodes);
    tree.rebuild(&arcs, &adj, root);

    let arc_count = n * m;
    let block = ((arc_count as f64).sqrt().ceil() as usize)
        .max(10)
        .min(arc_count);
    let mut next = 0usize;
    let max_pivots = 200 * (n + m) + 100_000;
    let mut pivots = 0usize;
    loop {
        // Block search for an entering arc of negative reduced cost c + π_from − π_to.
        let mut best: Option<(usize, usize, f64)> = None;
        let mut min_rc = -tolerance;
        let mut in_block = 0;
        let mut found = None;
        for step in 0..arc_count {
            let k = (next + step) % arc_count;
            let (i, j) = (k / m, k % m);
            let c = cost(i, j);
            let rc = c + tree.pi[i] - tree.pi[n + j];
            if rc < min_rc {
                min_rc = rc;
                best = Some((i, j, c));
            }
            in_block += 1;
            if in_block == block {
                in_block = 0;
                if best.is_some() {
                    next = (k + 1) % arc_count;
                    found = best;
                    break;
                }
            }
        }
        if found.is_none() {
            found = best;
        }
        let Some((i, j, c)) = found else {
            break;
        };
        if pivots >= max_pivots {
            return Err(CoreError::invalid(format!(
                "exact OT: no optimum after {pivots} pivots (N = {n}, M = {m})"
            )));
        }
        pivots += 1;
        let (first, second) = (i, n + j);
        let join = tree.join(first, second);
        // Cunningham's rule: the last blocking arc of the cycle from the apex.
        let mut delta = f64::INFINITY;
        let mut out: Option<usize> = None;
        let mut u = first;
        while u != join {
            if tree.up[u] {
                let d = arcs[tree.pred[u]].flow;
                if d < delta {
                    delta = d;
                    out = Some(u);
                }
            }
            u = tree.parent[u];
        }
        let mut u = second;
        while u != join {
            if !tree.up[u] {
                let d = arcs[tree.pred[u]].flow;
                if d <= delta {
                    delta = d;
                    out = Some(u);
                }
            }
            u = tree.parent[u];
        }
        let Some(out) = out else {
            return Err(CoreError::invalid(
                "exact OT: an unbounded pivot (a negative cycle without a blocking arc)",
            ));
        };
        if delta > 0.0 {
            let mut u = first;
            while u != join {
                let e = &mut arcs[tree.pred[u]];
                if tree.up[u] {
                    e.flow -= delta;
                } else {
                    e.flow += delta;
                }
                u = tree.parent[u];
            }
            let mut u = second;
            while u != join {
                let e = &mut arcs[tree.pred[u]];
                if tree.up[u] {
                    e.flow += delta;
                } else {
                    e.flow -= delta;
                }
                u = tree.parent[u];
            }
        }
        let slot = tree.pred[out];
        let old = arcs[slot];
        adj[old.from].retain(|&s| s != slot);
        adj[old.to].retain(|&s| s != slot);
        arcs[slot] = TreeArc {
            from: first,
            to: second,
            cost: c,
            flow: delta,
            real: Some((i, j)),
        };
        adj[first].push(slot);
        adj[second].push(slot);
        tree.rebuild(&arcs, &adj, root);
    }
    // What the artificial arcs still carry is the clouds' imbalance (their weights' rounding).
    let stranded: f64 = arcs
        .iter()
        .filter(|e| e.real.is_none())
        .map(|e| e.flow)
        .sum();
    if stranded > 1e-6 {
        return Err(CoreError::invalid(format!(
            "exact OT: {stranded:e} of the mass could not be transported (the weights' totals differ)"
        )));
    }
    let mut plan: Vec<(usize, usize, f64)> = arcs
        .iter()
        .filter_map(|e| e.real.map(|(i, j)| (i, j, e.flow)))
        .filter(|e| e.2 > 0.0)
        .collect();
    plan.sort_by_key(|e| (e.0, e.1));
    let total: f64 = plan.iter().map(|&(i, j, p)| p * cost(i, j)).sum();
    let f: Vec<f64> = (0..n).map(|i| -tree.pi[i]).collect();
    let g: Vec<f64> = (0..m).map(|j| tree.pi[n + j]).collect();
    let dual = a.iter().zip(&f).map(|(w, v)| w * v).sum::<f64>()
        + b.iter().zip(&g).map(|(w, v)| w * v).sum::<f64>();
    if !(total.is_finite() && dual.is_finite()) {
        return Err(CoreError::non_finite("exact OT value"));
    }
    Ok(ExactOt {
        cost: total,
        dual,
        plan,
        f,
        g,
        pivots,
    })
}

/// The spanning tree rooted at the artificial root: parents, the slot of each node's arc to its parent
/// and its direction, depths and node potentials (π_to = π_from + cost on every tree arc, π_root = 0).
struct Tree {
    parent: Vec<usize>,
    pred: Vec<usize>,
    /// Whether a node's arc points up, from it to its parent.
    up: Vec<bool>,
    depth: Vec<usize>,
    pi: Vec<f64>,
    queue: Vec<usize>,
}

impl Tree {
    fn new(nodes: usize) -> Self {
        Self {
            parent: vec![usize::MAX; nodes],
            pred: vec![usize::MAX; nodes],
            up: vec![false; nodes],
            depth: vec![0; nodes],
            pi: vec![0.0; nodes],
            queue: Vec::with_capacity(nodes),
        }
    }

    fn rebuild(&mut self, arcs: &[TreeArc], adj: &[Vec<usize>], root: usize) {
        self.queue.clear();
        self.queue.push(root);
        self.parent[root] = usize::MAX;
        self.pred[root] = usize::MAX;
        self.depth[root] = 0;
        self.pi[root] = 0.0;
        let mut head = 0;
        while head < self.queue.len() {
            let u = self.queue[head];
            head += 1;
            for &slot in &adj[u] {
                if slot == self.pred[u] {
                    continue;
                }
                let e = arcs[slot];
                let (v, up) = if e.from == u {
                    (e.to, false)
                } else {
                    (e.from, true)
                };
                self.parent[v] = u;
                self.pred[v] = slot;
                self.up[v] = up;
                self.depth[v] = self.depth[u] + 1;
                self.pi[v] = if up {
                    self.pi[u] - e.cost
                } else {
                    self.pi[u] + e.cost
                };
                self.queue.push(v);
            }
        }
    }

    /// The nearest common ancestor of `u` and `v`.
    fn join(&self, mut u: usize, mut v: usize) -> usize {
        while self.depth[u] > self.depth[v] {
            u = self.parent[u];
        }
        while self.depth[v] > self.depth[u] {
            v = self.parent[v];
        }
        while u != v {
            u = self.parent[u];
            v = self.parent[v];
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng::{seeded, uniform};

    fn cloud(n: usize, seed: u64, shift: f64, weighted: bool) -> (Vec<Vec2>, Vec<f64>) {
        let mut rng = seeded(seed);
        let pts: Vec<Vec2> = (0..n)
            .map(|_| [uniform(&mut rng) * 2.0 + shift, uniform(&mut rng)])
            .collect();
        let mut w: Vec<f64> = (0..n)
            .map(|_| {
                if weighted {
                    0.5 + uniform(&mut rng)
                } else {
                    1.0
                }
            })
            .collect();
        let s: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= s);
        (pts, w)
    }

    /// Every permutation of n ≤ 6 points: the exact assignment by brute force.
    fn brute_force_assignment(x: &[Vec2], y: &[Vec2]) -> f64 {
        fn go(k: usize, x: &[Vec2], y: &[Vec2], used: &mut Vec<bool>, acc: f64, best: &mut f64) {
            if k == x.len() {
                *best = best.min(acc);
                return;
            }
            for j in 0..y.len() {
                if !used[j] {
                    used[j] = true;
                    go(k + 1, x, y, used, acc + dist2(x[k], y[j]), best);
                    used[j] = false;
                }
            }
        }
        let mut best = f64::INFINITY;
        go(0, x, y, &mut vec![false; y.len()], 0.0, &mut best);
        best / x.len() as f64
    }

    #[test]
    fn equal_uniform_clouds_give_the_best_assignment() {
        for seed in 0..20 {
            let n = 2 + (seed as usize % 5);
            let (x, a) = cloud(n, seed, 0.0, false);
            let (y, b) = cloud(n, seed + 100, 0.5, false);
            let r = exact_ot(&x, &a, &y, &b).unwrap();
            let want = brute_force_assignment(&x, &y);
            assert!((r.cost - want).abs() < 1e-12, "{} vs {want}", r.cost);
            assert!((r.dual - r.cost).abs() < 1e-9, "{} vs {}", r.dual, r.cost);
        }
    }

    #[test]
    fn weighted_plans_are_feasible_and_dual_certified() {
        for (n, m) in [(1, 1), (1, 7), (9, 1), (40, 30), (150, 220)] {
            let (x, a) = cloud(n, 7 + n as u64, 0.0, true);
            let (y, b) = cloud(m, 9 + m as u64, 1.0, true);
            let r = exact_ot(&x, &a, &y, &b).unwrap();
            let (mut rows, mut cols) = (vec![0.0; n], vec![0.0; m]);
            for &(i, j, p) in &r.plan {
                assert!(p > 0.0);
                rows[i] += p;
                cols[j] += p;
            }
            let err: f64 = rows.iter().zip(&a).map(|(r, a)| (r - a).abs()).sum::<f64>()
                + cols.iter().zip(&b).map(|(c, b)| (c - b).abs()).sum::<f64>();
            assert!(err < 1e-12, "marginal error {err}");
            assert!(r.plan.len() < n + m);
            // Dual feasibility (f + g ≤ C) and a zero gap certify optimality.
            let c_max = 10.0;
            for (xi, fi) in x.iter().zip(&r.f) {
                for (yj, gj) in y.iter().zip(&r.g) {
                    assert!(fi + gj <= dist2(*xi, *yj) + 1e-9 * c_max);
                }
            }
            assert!((r.dual - r.cost).abs() < 1e-9, "{} vs {}", r.dual, r.cost);
        }
    }

    #[test]
    fn deterministic_and_refuses_what_it_cannot_do() {
        let (x, a) = cloud(60, 1, 0.0, false);
        let (y, b) = cloud(50, 2, 0.3, true);
        assert_eq!(exact_ot(&x, &a, &y, &b), exact_ot(&x, &a, &y, &b));
        let big = vec![[0.0, 0.0]; MAX_EXACT_POINTS + 1];
        let w = vec![1.0 / big.len() as f64; big.len()];
        let e = exact_ot(&big, &w, &y, &b).unwrap_err().to_string();
        assert!(e.contains("3000 points a side"), "{e}");
        let e = exact_ot(&x, &vec![0.5; 60], &y, &b)
            .unwrap_err()
            .to_string();
        assert!(e.contains("total weight"), "{e}");
    }
}
