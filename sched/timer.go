package sched

import (
	"math/bits"
	"time"
)

// Timer is a timed event. After and At create one; NewTimer creates one that is
// not armed yet, and Reset (re-)arms any timer without allocating, which is how
// connection timeouts should be kept. Only the loop goroutine touches a Timer.
type Timer struct {
	// Data is the caller's: the scheduler never reads it.
	Data any

	fn    TimerFunc
	loop  *Loop
	when  time.Duration // deadline, relative to the loop's base time
	seq   uint64        // arming order: breaks ties between equal deadlines
	state timerState

	// In the wheel: a doubly linked list per slot, so that Cancel is O(1).
	next, prev *Timer
	slot       *timerSlot
	// In the due heap: the index, so that Cancel is O(log n) there.
	heapIdx int
}

type timerState uint8

const (
	timerIdle   timerState = iota // not armed: new, fired or cancelled
	timerWheel                    // in a wheel slot
	timerHeap                     // in the due heap
	timerFiring                   // taken from the heap for this iteration
)

// NewTimer returns an unarmed timer that calls fn with the timer when it fires;
// arm it with Loop.Reset. Any goroutine may call it.
func NewTimer(fn TimerFunc, data any) *Timer {
	return &Timer{Data: data, fn: fn, heapIdx: -1}
}

// Armed reports whether t is scheduled and has not fired or been cancelled.
// Loop-only (it reads loop state, but checks nothing: it is a field read).
func (t *Timer) Armed() bool { return t.state != timerIdle }

// After arms a new timer that fires d from the current iteration's time; d <= 0
// fires at the next timer run. Loop-only.
func (l *Loop) After(d time.Duration, fn TimerFunc, data any) *Timer {
	l.mustOnLoop("After")
	t := &Timer{Data: data, fn: fn, heapIdx: -1}
	l.arm(t, l.now.Sub(l.base)+d)
	return t
}

// At arms a new timer that fires at deadline; a deadline in the past fires at
// the next timer run. A deadline with a monotonic clock reading (from time.Now)
// is compared on the monotonic clock, any other on the wall clock. Loop-only.
func (l *Loop) At(deadline time.Time, fn TimerFunc, data any) *Timer {
	l.mustOnLoop("At")
	t := &Timer{Data: data, fn: fn, heapIdx: -1}
	l.arm(t, deadline.Sub(l.base))
	return t
}

// Reset re-arms t to fire d from the current iteration's time, cancelling it
// first if it is armed. It allocates nothing. Loop-only.
func (l *Loop) Reset(t *Timer, d time.Duration) {
	l.mustOnLoop("Reset")
	if t.fn == nil {
		panic("sched: Reset of a timer without a function")
	}
	if t.loop != nil && t.loop != l {
		panic("sched: Reset of a timer of another loop")
	}
	l.wheel.cancel(t)
	l.arm(t, l.now.Sub(l.base)+d)
}

// Cancel disarms t and reports whether it was armed (so that it will not fire
// now). A timer already fired, cancelled or never armed gives false. Loop-only.
func (l *Loop) Cancel(t *Timer) bool {
	l.mustOnLoop("Cancel")
	if t.loop != l {
		return false
	}
	return l.wheel.cancel(t)
}

// Timers returns the number of armed timers. Loop-only.
func (l *Loop) Timers() int {
	l.mustOnLoop("Timers")
	return l.wheel.armed
}

func (l *Loop) arm(t *Timer, when time.Duration) {
	if t.fn == nil {
		panic("sched: timer without a function")
	}
	t.loop = l
	t.when = when
	l.wheel.add(t)
}

// runTimers fires every timer whose deadline is at or before the iteration's
// time, in deadline order. Timers armed by these callbacks wait for the next
// iteration, even when already due, so a timer that re-arms itself with 0 cannot
// hold the loop.
func (l *Loop) runTimers() {
	w := &l.wheel
	if w.armed == 0 {
		return
	}
	now := l.now.Sub(l.base)
	w.advance(w.tickOf(now))
	for len(w.heap) > 0 && w.heap[0].when <= now {
		t := w.heapPop()
		t.state = timerFiring
		w.firing = append(w.firing, t)
	}
	for i, t := range w.firing {
		w.firing[i] = nil
		if t.state != timerFiring {
			continue // cancelled or re-armed by an earlier callback
		}
		t.state = timerIdle
		w.armed--
		l.stats.timers.Add(1)
		t.fn(t, l.now)
	}
	w.firing = w.firing[:0]
}

// The wheel: level 0 has 256 slots of one tick; levels 1 to 4 have 64 slots, each
// slot spanning a whole turn of the level below, so the five levels cover 2^32
// ticks (49 days at 1 ms). A timer goes into the lowest level whose span holds its
// distance; when level 0 completes a turn the next slot of level 1 is spread over
// level 0 (and so on up), so each timer moves at most four times in its life.
// Slots of level 0 that come due are emptied into a binary heap ordered by
// (deadline, arming order), which gives exact order inside a tick. Deadlines
// beyond the top level park in its farthest slot and are placed again when it
// comes round.
const (
	wheelBits0  = 8
	wheelBitsN  = 6
	wheelSlots0 = 1 << wheelBits0
	wheelSlotsN = 1 << wheelBitsN
	wheelLevels = 4 // above level 0
	wheelSpan   = int64(1)<<(wheelBits0+wheelLevels*wheelBitsN) - 1
)

type timerSlot struct {
	head  *Timer
	level uint8 // 0 for level 0, else 1..4
	idx   uint8
}

type wheel struct {
	tick  time.Duration
	cur   int64 // the last tick processed
	l0    [wheelSlots0]timerSlot
	ln    [wheelLevels][wheelSlotsN]timerSlot
	bm0   [wheelSlots0 / 64]uint64 // occupied slots of level 0
	bmn   [wheelLevels]uint64      // occupied slots of levels 1..4
	inWh  int                      // timers in slots
	armed int                      // timers in slots, the heap or firing
	seq   uint64

	heap   []*Timer
	firing []*Timer
}

func (w *wheel) init(tick time.Duration) {
	w.tick = tick
	for i := range w.l0 {
		w.l0[i].idx = uint8(i)
	}
	for lv := range w.ln {
		for i := range w.ln[lv] {
			w.ln[lv][i].level = uint8(lv + 1)
			w.ln[lv][i].idx = uint8(i)
		}
	}
}

// tickOf returns the tick holding d, rounding towards minus infinity.
func (w *wheel) tickOf(d time.Duration) int64 {
	if d < 0 {
		return int64((d - w.tick + 1) / w.tick)
	}
	return int64(d / w.tick)
}

func shiftOf(level int) uint { return uint(wheelBits0 + (level-1)*wheelBitsN) }

func (w *wheel) add(t *Timer) {
	w.seq++
	t.seq = w.seq
	w.armed++
	w.place(t)
}

// place puts an armed timer into the slot or heap for its deadline.
func (w *wheel) place(t *Timer) {
	e := w.tickOf(t.when)
	d := e - w.cur
	if d <= 0 {
		w.heapPush(t)
		return
	}
	if d < wheelSlots0 {
		w.link(&w.l0[e&(wheelSlots0-1)], t)
		return
	}
	if d > wheelSpan {
		e = w.cur + wheelSpan
		d = wheelSpan
	}
	for lv := 1; lv <= wheelLevels; lv++ {
		if d < int64(1)<<(shiftOf(lv)+wheelBitsN) || lv == wheelLevels {
			w.link(&w.ln[lv-1][(e>>shiftOf(lv))&(wheelSlotsN-1)], t)
			return
		}
	}
}

func (w *wheel) link(s *timerSlot, t *Timer) {
	t.slot = s
	t.prev = nil
	t.next = s.head
	if s.head != nil {
		s.head.prev = t
	} else if s.level == 0 {
		w.bm0[s.idx>>6] |= 1 << (s.idx & 63)
	} else {
		w.bmn[s.level-1] |= 1 << s.idx
	}
	s.head = t
	t.state = timerWheel
	w.inWh++
}

func (w *wheel) unlink(t *Timer) {
	s := t.slot
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		s.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	if s.head == nil {
		if s.level == 0 {
			w.bm0[s.idx>>6] &^= 1 << (s.idx & 63)
		} else {
			w.bmn[s.level-1] &^= 1 << s.idx
		}
	}
	t.next, t.prev, t.slot = nil, nil, nil
	w.inWh--
}

// cancel disarms t and reports whether it was armed.
func (w *wheel) cancel(t *Timer) bool {
	switch t.state {
	case timerWheel:
		w.unlink(t)
	case timerHeap:
		w.heapRemove(t)
	case timerFiring:
		// Still in this iteration's firing list, which skips it now.
	default:
		return false
	}
	t.state = timerIdle
	w.armed--
	return true
}

// nextTick returns the earliest tick after cur at which a slot comes due or a
// higher slot is spread down, and whether there is one.
func (w *wheel) nextTick() (int64, bool) {
	if w.inWh == 0 {
		return 0, false
	}
	best, found := int64(0), false
	if k, ok := nextSet0(&w.bm0, int((w.cur+1)&(wheelSlots0-1))); ok {
		best, found = w.cur+1+int64(k), true
	}
	for lv := 1; lv <= wheelLevels; lv++ {
		bm := w.bmn[lv-1]
		if bm == 0 {
			continue
		}
		s := shiftOf(lv)
		blk := w.cur >> s
		// Slot of block blk+m comes round at tick (blk+m)<<s, m in 1..64.
		from := uint((blk + 1) & (wheelSlotsN - 1))
		m := int64(bits.TrailingZeros64(bits.RotateLeft64(bm, -int(from)))) + 1
		t := (blk + m) << s
		if !found || t < best {
			best, found = t, true
		}
	}
	return best, found
}

// nextSet0 returns the distance from slot from (0 included) to the next
// occupied level-0 slot, going round.
func nextSet0(bm *[wheelSlots0 / 64]uint64, from int) (int, bool) {
	for k := 0; k <= len(bm); k++ {
		word := (from>>6 + k) % len(bm)
		b := bm[word]
		if k == 0 {
			b &= ^uint64(0) << (from & 63)
		} else if k == len(bm) {
			b &= (uint64(1) << (from & 63)) - 1
		}
		if b != 0 {
			slot := word<<6 + bits.TrailingZeros64(b)
			return (slot - from + wheelSlots0) % wheelSlots0, true
		}
	}
	return 0, false
}

// advance processes every tick up to and including to: slots of higher levels
// are spread down as their turn comes, due level-0 slots go to the heap.
func (w *wheel) advance(to int64) {
	for w.cur < to {
		t, ok := w.nextTick()
		if !ok || t > to {
			w.cur = to
			return
		}
		w.cur = t
		if t&(wheelSlots0-1) == 0 {
			for lv := 1; lv <= wheelLevels; lv++ {
				idx := (t >> shiftOf(lv)) & (wheelSlotsN - 1)
				w.cascade(&w.ln[lv-1][idx])
				if idx != 0 {
					break
				}
			}
		}
		s := &w.l0[t&(wheelSlots0-1)]
		for s.head != nil {
			x := s.head
			w.unlink(x)
			w.heapPush(x)
		}
	}
}

// cascade re-places every timer of slot s relative to cur.
func (w *wheel) cascade(s *timerSlot) {
	for s.head != nil {
		x := s.head
		w.unlink(x)
		w.place(x)
	}
}

// next returns the deadline (relative to the base time) at which the loop should
// next run timers, and whether any timer is armed.
func (w *wheel) next() (time.Duration, bool) {
	if len(w.heap) > 0 {
		return w.heap[0].when, true
	}
	t, ok := w.nextTick()
	if !ok {
		return 0, false
	}
	return time.Duration(t) * w.tick, true
}

// The due heap, ordered by (when, seq).

func timerLess(a, b *Timer) bool {
	return a.when < b.when || (a.when == b.when && a.seq < b.seq)
}

func (w *wheel) heapPush(t *Timer) {
	t.state = timerHeap
	t.heapIdx = len(w.heap)
	w.heap = append(w.heap, t)
	w.heapUp(t.heapIdx)
}

func (w *wheel) heapPop() *Timer {
	t := w.heap[0]
	w.heapRemove(t)
	return t
}

func (w *wheel) heapRemove(t *Timer) {
	i := t.heapIdx
	last := len(w.heap) - 1
	if i != last {
		w.heap[i] = w.heap[last]
		w.heap[i].heapIdx = i
	}
	w.heap[last] = nil
	w.heap = w.heap[:last]
	if i != last {
		if !w.heapDown(i) {
			w.heapUp(i)
		}
	}
	t.heapIdx = -1
}

func (w *wheel) heapUp(i int) {
	h := w.heap
	for i > 0 {
		p := (i - 1) / 2
		if !timerLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		h[i].heapIdx, h[p].heapIdx = i, p
		i = p
	}
}

// heapDown reports whether the element moved.
func (w *wheel) heapDown(i int) bool {
	h := w.heap
	start := i
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if r := c + 1; r < len(h) && timerLess(h[r], h[c]) {
			c = r
		}
		if !timerLess(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		h[i].heapIdx, h[c].heapIdx = i, c
		i = c
	}
	return i > start
}
