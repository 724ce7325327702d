package query

import (
	"unicode"
	"unicode/utf8"
)

// likeElem is one element of a compiled LIKE pattern.
type likeElem struct {
	kind byte // 'l' literal rune, '_' one rune, '%' any run
	r    rune
}

// compileLike turns a LIKE pattern into elements: % matches any run of
// characters, _ exactly one, and a backslash makes the next character literal.
func compileLike(pat string) []likeElem {
	elems := make([]likeElem, 0, len(pat))
	for i := 0; i < len(pat); {
		r, size := utf8.DecodeRuneInString(pat[i:])
		i += size
		switch r {
		case '%':
			if n := len(elems); n > 0 && elems[n-1].kind == '%' {
				continue
			}
			elems = append(elems, likeElem{kind: '%'})
		case '_':
			elems = append(elems, likeElem{kind: '_'})
		case '\\':
			if i < len(pat) {
				r, size = utf8.DecodeRuneInString(pat[i:])
				i += size
			}
			elems = append(elems, likeElem{kind: 'l', r: r})
		default:
			elems = append(elems, likeElem{kind: 'l', r: r})
		}
	}
	return elems
}

// likeMatch reports whether s matches the whole pattern p; fold ignores case.
// It backtracks only to the last %, so it runs in O(len(p)·len(s)).
func likeMatch(p []likeElem, s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		r, size := utf8.DecodeRuneInString(s[si:])
		if pi < len(p) {
			switch e := p[pi]; {
			case e.kind == '%':
				starP, starS = pi, si
				pi++
				continue
			case e.kind == '_' || runeEqual(e.r, r, fold):
				pi++
				si += size
				continue
			}
		}
		if starP < 0 {
			return false
		}
		_, skip := utf8.DecodeRuneInString(s[starS:])
		starS += skip
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi].kind == '%' {
		pi++
	}
	return pi == len(p)
}

func runeEqual(a, b rune, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return unicode.ToLower(a) == unicode.ToLower(b) || unicode.ToUpper(a) == unicode.ToUpper(b)
}
