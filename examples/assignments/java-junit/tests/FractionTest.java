import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.gradescope.jh61b.grader.GradedTest;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Visible tests (JUnit 5), with Gradescope's annotation: max_score is each test's points. */
class FractionTest {
    @Test
    @GradedTest(name = "reduces to lowest terms", number = "1", max_score = 2)
    void reduces() {
        Fraction f = new Fraction(6, 8);
        assertEquals(3, f.numerator());
        assertEquals(4, f.denominator());
    }

    @Test
    @GradedTest(name = "keeps the sign on the numerator", number = "2", max_score = 2)
    void sign() {
        assertEquals("-1/2", new Fraction(1, -2).toString());
        assertEquals("1/2", new Fraction(-1, -2).toString());
    }

    @Test
    @GradedTest(name = "refuses a zero denominator", number = "3", max_score = 1)
    void zero() {
        assertThrows(IllegalArgumentException.class, () -> new Fraction(1, 0));
    }

    @ParameterizedTest
    @CsvSource({"1,2,1,3,5/6", "1,4,1,4,1/2", "2,3,1,3,1"})
    @GradedTest(name = "adds", number = "4", max_score = 3)
    void plus(long a, long b, long c, long d, String sum) {
        assertEquals(sum, new Fraction(a, b).plus(new Fraction(c, d)).toString());
    }

    @Test
    @DisplayName("multiplies and compares")
    @GradedTest(number = "5", max_score = 2)
    void timesAndCompare() {
        Fraction half = new Fraction(1, 2);
        assertEquals("1/4", half.times(half).toString());
        assertTrue(half.times(half).compareTo(half) < 0);
    }
}
