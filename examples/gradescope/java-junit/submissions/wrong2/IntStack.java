// does not compile: pop's return type is missing
public class IntStack {
    private int[] items = new int[1000];
    private int size;

    public void push(int value) {
        items[size++] = value;
    }

    public pop() {
        return items[--size];
    }

    public int peek() {
        return items[size - 1];
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }
}
