public class Range {
    private int lo, hi;

    public Range(int lo, int hi) { this.lo = lo; this.hi = hi; }

    public int middle() { return (lo + hi) / 2; }

    public void narrow(int guess, boolean lower) {
        if (lower) hi = guess - 1; else lo = guess + 1;
    }
}
