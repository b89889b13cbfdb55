/** An exact fraction, always reduced, with its sign on the numerator. */
public final class Fraction implements Comparable<Fraction> {
    public Fraction(long num, long den) {
        // TODO: refuse a zero denominator, reduce, keep the sign on the numerator
    }

    public long numerator() {
        throw new UnsupportedOperationException("TODO");
    }

    public long denominator() {
        throw new UnsupportedOperationException("TODO");
    }

    public Fraction plus(Fraction other) {
        throw new UnsupportedOperationException("TODO");
    }

    public Fraction times(Fraction other) {
        throw new UnsupportedOperationException("TODO");
    }

    @Override
    public int compareTo(Fraction other) {
        throw new UnsupportedOperationException("TODO");
    }

    @Override
    public String toString() {
        throw new UnsupportedOperationException("TODO");
    }
}
