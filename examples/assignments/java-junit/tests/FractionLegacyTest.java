import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** Hidden tests (JUnit 4, run on the vintage engine); weights are in assignment.toml. */
public class FractionLegacyTest {
    @Test
    public void wholeNumbersPrintWithoutDenominator() {
        assertEquals("3", new Fraction(6, 2).toString());
        assertEquals("0", new Fraction(0, -5).toString());
    }

    @Test
    public void bigValues() {
        Fraction f = new Fraction(1_000_000_007L, 2_000_000_014L);
        assertEquals("1/2", f.toString());
        assertEquals("1", f.plus(f).toString());
    }

    @Test
    public void equalFractionsAreEqual() {
        assertEquals(new Fraction(2, 4), new Fraction(-3, -6));
    }
}
