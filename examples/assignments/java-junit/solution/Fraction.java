/** An exact fraction, always reduced, with its sign on the numerator. */
public final class Fraction implements Comparable<Fraction> {
    private final long num;
    private final long den;

    public Fraction(long num, long den) {
        if (den == 0) {
            throw new IllegalArgumentException("denominator is zero");
        }
        long g = gcd(Math.abs(num), Math.abs(den));
        long sign = den < 0 ? -1 : 1;
        this.num = sign * num / g;
        this.den = Math.abs(den) / g;
    }

    private static long gcd(long a, long b) {
        return b == 0 ? Math.max(a, 1) : gcd(b, a % b);
    }

    public long numerator() {
        return num;
    }

    public long denominator() {
        return den;
    }

    public Fraction plus(Fraction other) {
        return new Fraction(num * other.den + other.num * den, den * other.den);
    }

    public Fraction times(Fraction other) {
        return new Fraction(num * other.num, den * other.den);
    }

    @Override
    public int compareTo(Fraction other) {
        return Long.compare(num * other.den, other.num * den);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Fraction && ((Fraction) o).num == num && ((Fraction) o).den == den;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(num) * 31 + Long.hashCode(den);
    }

    @Override
    public String toString() {
        return den == 1 ? Long.toString(num) : num + "/" + den;
    }
}
