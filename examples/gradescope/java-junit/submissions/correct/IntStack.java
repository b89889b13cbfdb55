import java.util.Arrays;

public class IntStack {
    private int[] items = new int[8];
    private int size;

    public void push(int value) {
        if (size == items.length) {
            items = Arrays.copyOf(items, size * 2);
        }
        items[size++] = value;
    }

    public int pop() {
        if (size == 0) {
            throw new IllegalStateException("empty stack");
        }
        return items[--size];
    }

    public int peek() {
        if (size == 0) {
            throw new IllegalStateException("empty stack");
        }
        return items[size - 1];
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }
}
