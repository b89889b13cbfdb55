import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        Range range = new Range(1, 1000);
        while (true) {
            int guess = range.middle();
            System.out.println(guess);
            System.out.flush();
            String answer = in.next();
            if (answer.equals("correct")) break;
            range.narrow(guess, answer.equals("lower"));
        }
    }
}
