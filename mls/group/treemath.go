package group

import "math/bits"

// Array-based tree arithmetic (RFC 9420, Appendix C). Node indices are uint32;
// leaf L is node 2L. nLeaves is always a power of two here (the tree's width).

func level(x uint32) int { return bits.TrailingZeros32(^x) }

func nodeWidth(nLeaves uint32) uint32 {
	if nLeaves == 0 {
		return 0
	}
	return 2*(nLeaves-1) + 1
}

func rootOf(nLeaves uint32) uint32 {
	w := nodeWidth(nLeaves)
	return (1 << (bits.Len32(w) - 1)) - 1
}

func left(x uint32) uint32 {
	k := level(x)
	return x ^ (1 << (k - 1))
}

func right(x uint32) uint32 {
	k := level(x)
	return x ^ (3 << (k - 1))
}

func parentOf(x uint32) uint32 {
	k := level(x)
	b := (x >> (k + 1)) & 1
	return (x | (1 << k)) ^ (b << (k + 1))
}

func siblingOf(x uint32) uint32 {
	p := parentOf(x)
	if x < p {
		return right(p)
	}
	return left(p)
}

// directPath returns the direct path of node x (excluding x, including the root).
func directPath(x, nLeaves uint32) []uint32 {
	r := rootOf(nLeaves)
	if x == r {
		return nil
	}
	var d []uint32
	for x != r {
		x = parentOf(x)
		d = append(d, x)
	}
	return d
}

// copath returns the siblings of x and of its direct path below the root.
func copath(x, nLeaves uint32) []uint32 {
	r := rootOf(nLeaves)
	if x == r {
		return nil
	}
	path := append([]uint32{x}, directPath(x, nLeaves)...)
	path = path[:len(path)-1]
	out := make([]uint32, len(path))
	for i, n := range path {
		out[i] = siblingOf(n)
	}
	return out
}

// isAncestor reports whether a is an ancestor of (or equal to) d.
func isAncestor(a, d uint32) bool {
	la, ld := level(a), level(d)
	if la < ld {
		return false
	}
	return (a >> (la + 1)) == (d >> (la + 1))
}

// commonAncestor returns the lowest common ancestor of nodes x and y.
func commonAncestor(x, y uint32) uint32 {
	lx, ly := level(x)+1, level(y)+1
	if lx <= ly && x>>ly == y>>ly {
		return y
	}
	if ly <= lx && x>>lx == y>>lx {
		return x
	}
	xn, yn := x, y
	k := 0
	for xn != yn {
		xn >>= 1
		yn >>= 1
		k++
	}
	return (xn << k) + (1 << (k - 1)) - 1
}
