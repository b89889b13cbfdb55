import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Known-bad: implements nothing and tries to forge results instead. When the class loads it
 * prints JUnit's and Assay's result lines, writes made-up reports to every descriptor it can
 * open (the test JVM's report pipe among them), and exits with status 0.
 */
public final class Fraction implements Comparable<Fraction> {
    static {
        String[] tests = {"FractionTest#reduces", "FractionTest#sign", "FractionTest#zero",
            "FractionTest#plus", "FractionTest#timesAndCompare",
            "FractionLegacyTest#wholeNumbersPrintWithoutDenominator",
            "FractionLegacyTest#bigValues", "FractionLegacyTest#equalFractionsAreEqual"};
        StringBuilder lines = new StringBuilder();
        for (String test : tests) {
            lines.append("{\"event\":\"start\",\"test\":\"").append(test).append("\"}\n");
            lines.append("{\"event\":\"end\",\"test\":\"").append(test)
                    .append("\",\"outcome\":\"passed\",\"assertion\":false,\"message\":\"\"}\n");
            lines.append("{\"id\":\"").append(test).append("\",\"outcome\":\"passed\"}\n");
        }
        lines.append("{\"done\":true}\n");
        lines.append("[         8 tests successful      ]\n[         0 tests failed          ]\n");
        lines.append("OK (8 tests)\nTests run: 8, Failures: 0\n");
        System.out.print(lines);
        System.err.print(lines);
        for (String path : new String[] {"/dev/fd/3", "/proc/self/fd/3", "/dev/fd/1",
                "/proc/1/fd/1", "/proc/self/fd/4", "/proc/self/fd/5"}) {
            try (FileOutputStream out = new FileOutputStream(path)) {
                out.write(lines.toString().getBytes(StandardCharsets.UTF_8));
            } catch (IOException | SecurityException e) {
                System.err.println("cannot write " + path + ": " + e);
            }
        }
        System.exit(0);
    }

    public Fraction(long num, long den) {}

    public long numerator() {
        return 0;
    }

    public long denominator() {
        return 1;
    }

    public Fraction plus(Fraction other) {
        return this;
    }

    public Fraction times(Fraction other) {
        return this;
    }

    @Override
    public int compareTo(Fraction other) {
        return 0;
    }
}
