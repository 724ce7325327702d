package query

// isoTime is a parsed ISO 8601 date or date-time. It is compared without
// allocating: sec is the civil time as seconds since the Unix epoch read as
// UTC, offset the zone offset in seconds when zoned.
type isoTime struct {
	sec    int64
	nsec   int
	offset int
	zoned  bool
}

// unix returns the instant, reading an unzoned time at the given offset.
func (t isoTime) unix(offset int) int64 {
	if t.zoned {
		offset = t.offset
	}
	return t.sec - int64(offset)
}

// compareDates compares two strings as instants when both parse as dates.
// An unzoned value takes the other value's offset (UTC when neither has one).
func compareDates(a, b string) (int, bool) {
	ta, ok := parseISO(a)
	if !ok {
		return 0, false
	}
	tb, ok := parseISO(b)
	if !ok {
		return 0, false
	}
	var sa, sb int64
	switch {
	case ta.zoned:
		sa, sb = ta.unix(0), tb.unix(ta.offset)
	case tb.zoned:
		sa, sb = ta.unix(tb.offset), tb.unix(0)
	default:
		sa, sb = ta.sec, tb.sec
	}
	if sa != sb {
		return cmpInt64(sa, sb), true
	}
	return cmpInt(ta.nsec, tb.nsec), true
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseISO parses "YYYY-MM-DD" (or with '/'), optionally followed by 'T' or
// ' ' and "hh:mm[:ss[.fff]]", optionally followed by "Z", "±hh:mm" or
// "±hhmm".
func parseISO(s string) (isoTime, bool) {
	var t isoTime
	num := func(i, n int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v := 0
		for j := i; j < i+n; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok := num(0, 4)
	if !ok || len(s) < 10 || (s[4] != '-' && s[4] != '/') || s[7] != s[4] {
		return t, false
	}
	month, ok1 := num(5, 2)
	day, ok2 := num(8, 2)
	if !ok1 || !ok2 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return t, false
	}
	var hour, minute, second, nsec int
	i := 10
	if i < len(s) && (s[i] == 'T' || s[i] == ' ') {
		var okH, okM bool
		hour, okH = num(i+1, 2)
		if !okH || i+3 >= len(s) || s[i+3] != ':' {
			return t, false
		}
		minute, okM = num(i+4, 2)
		if !okM || hour > 23 || minute > 59 {
			return t, false
		}
		i += 6
		if i < len(s) && s[i] == ':' {
			var okS bool
			second, okS = num(i+1, 2)
			if !okS || second > 60 {
				return t, false
			}
			i += 3
			if i < len(s) && (s[i] == '.' || s[i] == ',') {
				i++
				digits := 0
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					if digits < 9 {
						nsec = nsec*10 + int(s[i]-'0')
						digits++
					}
					i++
				}
				if digits == 0 {
					return t, false
				}
				for ; digits < 9; digits++ {
					nsec *= 10
				}
			}
		}
	}
	if i < len(s) {
		switch s[i] {
		case 'Z', 'z':
			t.zoned = true
			i++
		case '+', '-':
			sign := 1
			if s[i] == '-' {
				sign = -1
			}
			oh, okH := num(i+1, 2)
			if !okH {
				return t, false
			}
			j := i + 3
			if j < len(s) && s[j] == ':' {
				j++
			}
			om, okM := num(j, 2)
			if !okM || oh > 23 || om > 59 {
				return t, false
			}
			t.zoned = true
			t.offset = sign * (oh*3600 + om*60)
			i = j + 2
		}
	}
	if i != len(s) {
		return t, false
	}
	t.sec = daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second)
	t.nsec = nsec
	return t, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
