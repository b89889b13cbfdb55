// Roman numerals, both ways (reference solution).
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;

public class Main {
    private static final int[] VALUES = {1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1};
    private static final String[] SYMBOLS =
        {"M", "CM", "D", "CD", "C", "XC", "L", "XL", "X", "IX", "V", "IV", "I"};

    static String toRoman(int number) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < VALUES.length; i++) {
            while (number >= VALUES[i]) {
                out.append(SYMBOLS[i]);
                number -= VALUES[i];
            }
        }
        return out.toString();
    }

    /** The value of a Roman numeral in canonical form, or -1 if it is not one. */
    static int fromRoman(String text) {
        int total = 0;
        int at = 0;
        for (int i = 0; i < VALUES.length && at < text.length(); i++) {
            while (text.startsWith(SYMBOLS[i], at)) {
                total += VALUES[i];
                at += SYMBOLS[i].length();
            }
        }
        if (at != text.length() || total < 1 || total > 3999 || !toRoman(total).equals(text)) {
            return -1;
        }
        return total;
    }

    static String convert(String line) {
        if (line.matches("[0-9]{1,9}")) {
            int number = Integer.parseInt(line);
            return number >= 1 && number <= 3999 ? toRoman(number) : "invalid";
        }
        int value = fromRoman(line);
        return value > 0 ? Integer.toString(value) : "invalid";
    }

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        PrintWriter out = new PrintWriter(System.out);
        String line;
        while ((line = in.readLine()) != null) {
            line = line.trim();
            if (!line.isEmpty()) {
                out.println(convert(line));
            }
        }
        out.flush();
    }
}
