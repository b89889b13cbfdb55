import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import gs.GradedTest;
import org.junit.Test;

public class IntStackTest {
    @Test
    @GradedTest(points = 2, number = "1", name = "push then pop returns the last value")
    public void pushPop() {
        IntStack s = new IntStack();
        s.push(1);
        s.push(2);
        assertEquals(2, s.pop());
        assertEquals(1, s.pop());
    }

    @Test
    @GradedTest(points = 2, number = "2", name = "peek does not remove")
    public void peekKeeps() {
        IntStack s = new IntStack();
        s.push(7);
        assertEquals(7, s.peek());
        assertEquals(7, s.peek());
        assertEquals(1, s.size());
    }

    @Test
    @GradedTest(points = 2, number = "3", name = "size and isEmpty")
    public void sizeCounts() {
        IntStack s = new IntStack();
        assertTrue(s.isEmpty());
        s.push(3);
        s.push(4);
        assertEquals(2, s.size());
    }

    @Test(expected = IllegalStateException.class)
    @GradedTest(points = 2, number = "4", name = "pop on an empty stack throws", visibility = "hidden")
    public void popEmptyThrows() {
        new IntStack().pop();
    }

    @Test
    @GradedTest(points = 2, number = "5", name = "grows past 1000 elements")
    public void grows() {
        IntStack s = new IntStack();
        for (int i = 0; i < 1500; i++) {
            s.push(i);
        }
        assertEquals(1500, s.size());
        assertEquals(1499, s.pop());
    }
}
